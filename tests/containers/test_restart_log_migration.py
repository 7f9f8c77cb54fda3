"""A container of the first release carries a ``binary://`` restart log URI naming the per-container
logger launcher since removed: the next invocation moves it to the log collector's FIFOs, and containerd's
restart monitor then restarts it with its output in its log (managers.restartlogs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from managers.labels import LABEL
from managers.restartlogs import marker
from tests.containers.conftest import new_facade
from tests.containers.helpers import opts
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def first_release_uri(root: Path, log: Path) -> str:
    """The URI the first release's start put in the monitor's label (its ctrd.logger.binary_log_uri with
    the launcher in ``<data root>/bin``)."""
    query = urlencode({"path": str(log), "max-size": str(10 << 20), "max-file": "1"})
    return f"binary://{quote(str(root / 'bin' / 'pouchsh-logger'))}?{query}"


def made_by_the_first_release(mgr: Any, root: Path, name: str, *args: str, **kw: Any) -> str:
    """A container created now, labelled as the first release's ``run -d`` left it (``restart.status``
    only under a restart policy, as its ``_note_started``); no task: the monitor is to start it."""
    cid = mgr.containers.create(opts(*args, name=name, **kw))["id"]
    labels: dict[str, str | None] = {LABEL.RESTART_LOGURI: first_release_uri(root, mgr.containers.paths.log_path(cid))}
    if kw.get("restart"):
        labels[LABEL.RESTART_STATUS] = "running"
    mgr.ctrd.containers.update(cid, labels=labels)
    return str(cid)


def test_a_first_release_restart_log_uri_is_moved_to_the_collector(mgr: Any, roots: tuple[Path, Path],
                                                                   containerd_address: str, namespace: str) -> None:
    root = roots[0]
    done = Path(marker(root, namespace))
    assert not done.exists()
    assert mgr.containers is not None  # built: found nothing to migrate; the next ones only stat
    assert done.exists()
    policy = made_by_the_first_release(mgr, root, "old", "sh", "-c", "echo boot-$$; exec sleep 300",
                                       restart="always")
    plain = made_by_the_first_release(mgr, root, "plain", "true")
    elsewhere = mgr.containers.create(opts("true", name="elsewhere", restart="always"))["id"]
    foreign = first_release_uri(Path("/var/lib/other-root"), Path("/var/lib/other-root/x-json.log"))
    mgr.ctrd.containers.update(elsewhere, labels={LABEL.RESTART_LOGURI: foreign})

    # with the marker present, another invocation lists nothing and leaves the labels as they are
    untouched = new_facade(containerd_address, namespace, roots)
    try:
        assert untouched.containers is not None  # built (and migrated, were the marker gone)
        assert mgr.ctrd.containers.get(policy).labels[LABEL.RESTART_LOGURI].startswith("binary://")
    finally:
        untouched.close()

    done.unlink()  # as after the upgrade from the first release: never migrated
    volumes_only = new_facade(containerd_address, namespace, roots)
    try:  # a script that touches only volumes still never dials containerd, to migrate or otherwise
        assert volumes_only.volumes is not None and "client" not in volumes_only.__dict__ and not done.exists()
    finally:
        volumes_only.close()
    upgraded = new_facade(containerd_address, namespace, roots)
    try:
        c = upgraded.containers
        labels = upgraded.ctrd.containers.get(policy).labels
        fifo = Path(labels[LABEL.RESTART_LOGURI])
        assert fifo.parent == c.paths.state_dir(policy) and fifo.name == "stdout.fifo"
        assert LABEL.RESTART_LOGURI not in upgraded.ctrd.containers.get(plain).labels
        assert upgraded.ctrd.containers.get(elsewhere).labels[LABEL.RESTART_LOGURI] == foreign
        assert done.exists()

        # containerd's restart monitor (every 10 s by default) now makes the task, logging to the collector
        poll(lambda: any(t.id == policy and t.status == "running" for t in upgraded.ctrd.tasks.list()),
             "the restart monitor to start the container", timeout=120)
        poll(lambda: [e.text for e in c.log_entries("old")], "its first line in its log", timeout=60)
        (line,) = [e.text for e in c.log_entries("old")]
        assert line.startswith("boot-") and os.path.exists(c.paths.log_path(policy))
    finally:
        upgraded.close()
