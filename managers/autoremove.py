"""``run -d --rm`` without a daemon: a small detached process that waits for the container to exit and
then removes it, the way dockerd would.

The container manager starts it (``spawn``) in a session of its own, so it outlives the pouchsh that ran
the container; it holds nothing but one ``Tasks.Wait``. If containerd restarts meanwhile it waits again;
if the container was removed by someone else it just ends.

    python -m managers.autoremove ADDRESS NAMESPACE ROOT RUN_ROOT CONTAINER_ID
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ctrd.errors import NotFound, PouchError, Unavailable
from managers import Managers

__all__ = ["argv", "main", "spawn"]

_RETRY = 1.0
_GIVE_UP = 600.0  # containerd gone for this long: leave the container for `container prune`


def argv(address: str, namespace: str, root: Path, run_root: Path, container_id: str) -> list[str]:
    """The command that waits for ``container_id`` to exit and removes it: run by ``spawn``, or by the
    log collector once a detached container's output has ended (ctrd.logd's on-exit)."""
    return [sys.executable, "-m", "managers.autoremove", address, namespace, str(root), str(run_root), container_id]


def spawn(address: str, namespace: str, root: Path, run_root: Path, container_id: str) -> None:
    """Start the waiter for ``container_id`` in the background (it is not our child for long)."""
    subprocess.Popen(
        argv(address, namespace, root, run_root, container_id),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
    )


def main(argv: list[str] | None = None) -> int:
    address, namespace, root, run_root, cid = (sys.argv[1:] if argv is None else argv)[:5]
    facade = Managers(address=address, namespace=namespace, root=Path(root), run_root=Path(run_root))
    unavailable_since: float | None = None
    try:
        while True:
            try:
                facade.ctrd.tasks.wait(cid).result()
                container = facade.ctrd.containers.get(cid)
                facade.containers.lifecycle.destroy(container, True)  # docker's --rm takes anonymous volumes too
                return 0
            except NotFound:
                return 0
            except Unavailable:
                unavailable_since = unavailable_since or time.monotonic()
                if time.monotonic() - unavailable_since > _GIVE_UP:
                    return 1
                time.sleep(_RETRY)
            except PouchError:
                return 1
    finally:
        facade.close()


if __name__ == "__main__":
    os.umask(0o022)
    raise SystemExit(main())
