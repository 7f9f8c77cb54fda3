"""OCI hooks that keep a restartable container on its CNI networks when containerd restarts it.

containerd 1.6's restart monitor recreates the task of a ``--restart always|unless-stopped`` container
by itself, with no pouchsh around to run CNI. For such containers the spec carries two hooks that runc
runs on the host: ``createRuntime`` (the network namespace exists, the process has not started) does
the CNI ADD on ``/proc/<pid>/ns/net``, and ``poststop`` (on task delete) the CNI DEL, keeping the
hosts/resolv.conf/hostname files the next task mounts. runc passes the container state as JSON on stdin.

    python -m managers.nethook create|delete ADDRESS NAMESPACE ROOT RUN_ROOT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ctrd.errors import PouchError
from managers import Managers

__all__ = ["hooks", "main"]

_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TIMEOUT = 60


def hooks(address: str, namespace: str, root: Path, run_root: Path) -> dict[str, Any]:
    """The ``hooks`` section of a spec for a container on CNI networks that containerd may restart."""
    env = [_PATH] + [f"{k}={v}" for k, v in os.environ.items() if k == "POUCHSH_CNI_PATH"]

    def hook(stage: str) -> dict[str, Any]:
        args = [sys.executable, "-m", "managers.nethook", stage, address, namespace, str(root), str(run_root)]
        return {"path": sys.executable, "args": args, "env": env, "timeout": _TIMEOUT}

    return {"createRuntime": [hook("create")], "poststop": [hook("delete")]}


def main(argv: list[str] | None = None) -> int:
    stage, address, namespace, root, run_root = (sys.argv[1:] if argv is None else argv)[:5]
    state = json.load(sys.stdin)
    cid = state["id"]
    facade = Managers(address=address, namespace=namespace, root=Path(root), run_root=Path(run_root),
                      reconcile=False)
    try:
        networks = facade.networks
        if stage == "create":
            container = facade.ctrd.containers.get(cid)
            plan = networks.plan_from_labels(cid, dict(container.labels))
            networks.attach(cid, f"/proc/{state['pid']}/ns/net", plan)
        else:
            networks.detach(cid, keep_files=True)
    except PouchError as err:
        print(f"pouchsh network hook ({stage}) for {cid[:12]}: {err}", file=sys.stderr)
        return 1
    finally:
        facade.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
