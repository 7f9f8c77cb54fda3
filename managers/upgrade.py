"""``upgrade CONTAINER --image IMG``: the same container from another image, or the old one back.

The new container is made from the options the old one was created with (kept in its state directory,
managers.options.OPTIONS_FILE) with only the image changed: same name, environment, limits, restart
policy, healthcheck, published ports, networks with their aliases, and the same volumes (anonymous
ones included: the new container mounts the old one's by name, so no data is left behind).

Steps, as one transaction (managers.transactions): the image is made ready first (an image that does not
exist fails before anything is touched); the old container is stopped and set aside under another name
(written ahead, so an undo gives it back its name and starts it); the new one is made and started and
must prove itself: healthy when it has a healthcheck, else still running after the grace period. Only
then is the transaction committed and the old container removed (its volumes stay: the new one uses
them). Any failure, Ctrl-C or a kill -9 (reconciled by the next invocation) removes the new container
and brings the old one back.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from ctrd.errors import InvalidArgument, NotFound, PouchError, PouchRuntimeError
from managers.health import HealthConfig
from managers.labels import LABEL
from managers.options import OPTIONS_FILE, CreateOptions
from managers.transactions import set_aside

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["Upgrader"]

DEFAULT_GRACE = 5.0


class Upgrader:
    """``ctx.managers.upgrades``."""

    def __init__(self, facade: Managers) -> None:
        self.facade = facade

    def upgrade(self, ref: str, *, image: str, grace: float | None = None, timeout: float | None = None,
                cancel: threading.Event | None = None) -> dict[str, Any]:
        """Replace ``ref`` with a container from ``image``; the new container's record."""
        containers = self.facade.containers
        old = containers.resolver.get(ref)
        name = old.labels.get(LABEL.NAME, "")
        opts = self._options(old, image)
        self.facade.images.ensure(image, pull=opts.pull)
        task = containers.resolver.task(old.id)
        running = task is not None and task.status in ("running", "paused")
        transactions = self.facade.transactions
        tx = transactions.begin()
        try:
            if running:
                containers.stop([old.id])
            set_aside(self.facade, old.id, name, running)
            containers.rename(old.id, f"{name[:100]}-upgrading-{old.id[:8]}")
            new = containers.create(opts)
            self._networks(old.labels, new["id"])
            containers.start([new["id"]])
            self._confirm(new["id"], name, grace, timeout, cancel)
        except (PouchError, KeyboardInterrupt):
            transactions.rollback(tx)
            raise
        transactions.commit(tx)
        containers.remove([old.id], force=True, volumes=False)
        return containers.resolver.record(new["id"])

    def _options(self, old: Any, image: str) -> CreateOptions:
        path = self.facade.containers.paths.state_dir(old.id) / OPTIONS_FILE
        try:
            opts = CreateOptions.from_json(path.read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"container {old.labels.get(LABEL.NAME, old.id)} was created by an older pouchsh "
                                  "that did not keep its options: it cannot be upgraded") from None
        except (OSError, ValueError, TypeError) as e:
            raise PouchRuntimeError(f"the create options of {old.id[:12]} cannot be read: {e}") from None
        if opts.rm:
            raise InvalidArgument("a --rm container cannot be upgraded")
        opts.image = image
        # the same volumes, by name: an anonymous volume of the old container is the new one's too
        mounts = json.loads(old.labels.get(LABEL.MOUNTS) or "null")
        if mounts is None:
            from managers.records import _mounts

            mounts = _mounts(old)
        binds = [v for v in opts.volumes if ":" in str(v) and str(v).startswith("/")]  # /anon is a volume
        named = [f"{m['name']}:{m['destination']}{'' if m.get('rw', True) else ':ro'}"
                 for m in mounts if m.get("type") == "volume" and m.get("name")]
        opts.volumes = binds + named
        opts.mounts = [m for m in opts.mounts if "type=volume" not in m.replace(" ", "")]
        opts.volumes_from = []
        return opts

    def _networks(self, labels: Any, cid: str) -> None:
        """The old container's other networks (connected after its create), and its aliases on each."""
        aliases = json.loads(labels.get(LABEL.NET_ALIASES) or "{}")
        have = self.facade.containers.resolver.get(cid).labels.get(LABEL.NETWORKS, "").split(",")
        for net in [n for n in labels.get(LABEL.NETWORKS, "").split(",") if n]:
            wanted = list(aliases.get(net) or [])
            if net in have:
                if not wanted:
                    continue
                self.facade.networks.disconnect(net, cid)
            self.facade.networks.connect(net, cid, aliases=wanted)

    def _confirm(self, cid: str, name: str, grace: float | None, timeout: float | None,
                 cancel: threading.Event | None) -> None:
        """Healthy (with a healthcheck), else running for ``grace`` seconds."""
        c = self.facade.containers.resolver.get(cid)
        if HealthConfig.from_labels(c.labels) is not None:
            self.facade.health.wait([cid], timeout=timeout, cancel=cancel)
            return
        event = cancel or threading.Event()
        if event.wait(DEFAULT_GRACE if grace is None else grace):
            from ctrd.errors import Interrupted

            raise Interrupted(f"upgrade of {name} interrupted")
        task = self.facade.containers.resolver.task(cid)
        if task is None or task.status != "running":
            try:
                code = self.facade.containers.resolver.record(cid).get("exit_code")
            except NotFound:
                code = None
            raise PouchRuntimeError(f"upgrade of {name}: the new container stopped within the grace period "
                           f"(exit status {code}); the old one is back")
