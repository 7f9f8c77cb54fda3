"""The host tmpfs a ``--ipc shareable`` container's /dev/shm is (managers.ipcshm) never outlives its
container: a ``run`` or ``rm`` SIGKILLed at each step (managers.faults) leaves a mount that the next
command's reconciler unmounts, with the state directory it is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.containers.test_ipc_shm import _mounts_under
from tests.security.test_kill9 import Run, killed, ok, pouch  # noqa: F401 - the fixture

pytestmark = pytest.mark.containerd

DONOR = "run -d --name shmd --network none --ipc shareable --shm-size 4m busybox sleep 300"


def _containers_dir(roots: tuple[Path, Path]) -> Path:
    return roots[0] / "containers"


@pytest.mark.parametrize("fault", ["container.create.before", "container.create.after"])
def test_a_run_killed_after_the_mount_leaves_nothing_after_the_next_command(
        fault: str, pouch: Run, roots: tuple[Path, Path]) -> None:  # noqa: F811
    killed(pouch("-c", DONOR, fault=fault))
    assert [m for m in _mounts_under(_containers_dir(roots)) if m[1] == "tmpfs"], "the kill left the mount"
    ok(pouch("-c", "ps -a"))  # reconciles
    if "shmd" in ok(pouch("-c", "ps -a --format '{{.Names}}'")):
        ok(pouch("-c", "rm -f shmd"))
    assert _mounts_under(_containers_dir(roots)) == []
    ok(pouch("-c", DONOR))
    ok(pouch("-c", "rm -f shmd"))
    assert _mounts_under(_containers_dir(roots)) == []


def test_an_rm_killed_after_the_record_went_leaves_no_mount(pouch: Run, roots: tuple[Path, Path]) -> None:  # noqa: F811
    ok(pouch("-c", DONOR))
    killed(pouch("-c", "rm -f shmd", fault="container.rm.deleted"))
    ok(pouch("-c", "ps -a"))
    assert _mounts_under(_containers_dir(roots)) == []

