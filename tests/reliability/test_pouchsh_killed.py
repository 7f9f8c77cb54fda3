"""pouchsh itself SIGKILLed during ``run`` and during ``load``/``pull``: the next invocation sees a
consistent state, and ``system prune`` reclaims what was left.

The moment of the kill is exact where it matters: ``run`` goes through a runc wrapper that stops before
``create`` or ``start`` (Tasks.Create or Tasks.Start in flight); a foreground ``run`` is killed while its
container runs; ``load`` and ``pull`` of a 24 MiB image are killed once their lease exists (content
being written).
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.containers.helpers import EMPTY, leftovers
from tests.images.conftest import registry  # noqa: F401 - the module-scoped docker-registry fixture
from tests.reliability.conftest import REPO, pouchsh_env
from tests.reliability.test_containerd_killed import Hold
from tests.support.poll import poll

pytestmark = pytest.mark.containerd

BIG = "127.0.0.1/reliability/big:1"


@pytest.fixture
def facade(containerd_address: str, namespace: str, roots: tuple[Path, Path]) -> Any:
    from managers import Managers

    f = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    yield f
    f.close()


@pytest.fixture
def spawn(containerd_address: str, namespace: str, roots: tuple[Path, Path]) -> Callable[..., subprocess.Popen[bytes]]:
    def start(*args: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pouchsh_env(roots), cwd=REPO)

    return start


def _until(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """``predicate`` true while pouchsh still runs; polled often, as the step it waits for (a lease held
    mid-load) may last only moments before the kill must land."""
    def seen() -> bool:
        if predicate():
            return True
        assert proc.poll() is None, f"pouchsh ended before {what}: {proc.stderr.read().decode()[-1000:]}"  # type: ignore[union-attr]
        return False

    poll(seen, what, timeout, interval=0.005)


def _sigkill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.communicate(timeout=30)


def _ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()[-2000:]
    assert b"Traceback" not in proc.stderr
    return proc.stdout.decode()


def _kill_foreground_run(cli: Any, spawn: Any, facade: Any) -> None:
    proc = spawn("-c", "run --network none --name fg busybox sleep 300")
    _until(lambda: any(t.status == "running" for t in facade.ctrd.tasks.list()), proc, "the container running")
    _sigkill(proc)
    shown = json.loads(_ok(cli("--json", "-c", "ps -a")).splitlines()[0])
    assert [(r["name"], r["status"]) for r in shown] == [("fg", "running")]
    _ok(cli("-c", "kill fg"))
    _ok(cli("-c", "system prune -f"))


def test_killed_during_a_foreground_run(cli: Any, spawn: Any, facade: Any, roots: tuple[Path, Path]) -> None:
    _kill_foreground_run(cli, spawn, facade)
    left = leftovers(facade, roots)
    left.pop("fifos")  # see the next test
    assert left == {k: v for k, v in EMPTY.items() if k != "fifos"}


def test_killed_during_a_foreground_run_prune_reclaims_the_fifos(cli: Any, spawn: Any, facade: Any, roots: tuple[Path, Path]) -> None:
    _kill_foreground_run(cli, spawn, facade)
    assert leftovers(facade, roots)["fifos"] == []


@pytest.mark.parametrize("verb", ["create", "start"])
@pytest.mark.parametrize("mode", ["-d", "--network none"], ids=["detached", "foreground"])
def test_killed_during_run(cli: Any, spawn: Any, facade: Any, roots: tuple[Path, Path], tmp_path: Path, verb: str, mode: str) -> None:
    """Killed inside Tasks.Create, the shim has yet to open the task's output FIFOs: the log collector
    holds read ends for it (ctrd.logd), or its opens would wait for good, and the shim with its runc
    init would outlive everything (the namespace fixture's purge looks for shims left running)."""
    hold = Hold(tmp_path, verb)
    hold.arm()
    proc = spawn("-c", f"run {mode} --runtime {hold.binary} --name half busybox sleep 300")
    hold.wait_held(proc)
    _sigkill(proc)
    hold.release()
    shown = json.loads(_ok(cli("--json", "-c", "ps -a")).splitlines()[0])
    assert [r["name"] for r in shown] == ["half"]
    assert shown[0]["status"] in ("created", "running", "exited")
    # The name is taken by that container, consistently.
    again = cli("-c", "create --name half busybox true")
    assert b"error[already-exists]" in again.stderr
    if shown[0]["status"] == "running":
        _ok(cli("-c", "stop -t 0 half"))
    _ok(cli("-c", "system prune -f"))
    assert leftovers(facade, roots) == EMPTY
    assert not (roots[0] / "networks" / "ipam").exists() or not any(
        p.name[0].isdigit() for d in (roots[0] / "networks" / "ipam").iterdir() for p in d.iterdir()
    )


def test_a_start_right_after_a_killed_create_waits_for_containerds_cleanup(
    cli: Any, spawn: Any, facade: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """containerd removes the task's bundle only once the shim of the killed caller's create has ended
    that create; until then every create of the container fails with ``mkdir …: file exists``."""
    from ctrd.errors import PouchError

    hold = Hold(tmp_path, "create")
    hold.arm()
    proc = spawn("-c", f"run -d --runtime {hold.binary} --name half busybox sleep 300")
    hold.wait_held(proc)
    _sigkill(proc)
    refused: list[str] = []
    create = facade.ctrd.tasks.create

    def create_while_held(*args: Any, **kwargs: Any) -> int:
        try:
            return create(*args, **kwargs)  # type: ignore[no-any-return]
        except PouchError as err:
            refused.append(err.message)
            hold.release()  # the killed create's runc goes on, and containerd's cleanup with it
            raise

    monkeypatch.setattr(facade.ctrd.tasks, "create", create_while_held)
    facade.containers.start(["half"])
    assert refused and "file exists" in refused[0], refused
    assert facade.containers.inspect("half")["status"] == "running"
    facade.containers.remove(["half"], force=True)


def _big_layout(path: Path) -> Path:
    from tests.support.images import build_layout, busybox_layer

    blob = random.Random(7).randbytes(24 << 20)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("data/blob")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    return build_layout(path, [busybox_layer(), out.getvalue()], name=BIG)


def _consistent(cli: Any, facade: Any, name: str) -> None:
    """``images`` answers; the image is either absent or whole (a container runs from it)."""
    listed = json.loads(_ok(cli("--json", "-c", "images")).splitlines()[0])
    if any(name in (r.get("name"), r.get("repository")) or name.startswith(str(r.get("repository"))) for r in listed):
        _ok(cli("-c", f"run --rm --network none {name} true"))


def _leases_expire(facade: Any) -> None:
    """What a killed pouchsh left protected is protected for a bounded time: every lease expires."""
    for lease in facade.ctrd.leases.list():
        assert "containerd.io/gc.expire" in lease.labels, lease


def _kill_load(cli: Any, spawn: Any, facade: Any, tmp_path: Path) -> Path:
    from tests.support.images import layout_tar

    archive = layout_tar(_big_layout(tmp_path / "layout"), tmp_path / "big.tar")
    proc = spawn("-c", f"load -i {archive}")
    _until(lambda: bool(facade.ctrd.leases.list()), proc, "the load's lease")
    _sigkill(proc)
    _consistent(cli, facade, BIG)
    _ok(cli("-c", "system prune -a -f"))
    return archive


def test_killed_during_load(cli: Any, spawn: Any, facade: Any, tmp_path: Path) -> None:
    archive = _kill_load(cli, spawn, facade, tmp_path)
    _leases_expire(facade)
    _ok(cli("-c", f"load -i {archive}"))  # and loading again works
    _ok(cli("-c", f"run --rm --network none {BIG} true"))


def test_killed_during_load_prune_reclaims_the_lease(cli: Any, spawn: Any, facade: Any, tmp_path: Path) -> None:
    _kill_load(cli, spawn, facade, tmp_path)
    assert facade.ctrd.leases.list() == []


def test_killed_during_pull(cli: Any, spawn: Any, facade: Any, roots: tuple[Path, Path], tmp_path: Path, registry: str) -> None:  # noqa: F811
    from tests.support.images import layout_tar

    archive = layout_tar(_big_layout(tmp_path / "layout"), tmp_path / "big.tar")
    remote = f"{registry}/reliability/big:1"
    _ok(cli("-c", f"load -i {archive}; tag {BIG} {remote}; push --insecure-registry {remote}; rmi {BIG} {remote}; image prune -a"))
    proc = spawn("-c", f"pull --insecure-registry {remote}")
    _until(lambda: bool(facade.ctrd.leases.list()), proc, "the pull's lease")
    _sigkill(proc)
    _consistent(cli, facade, remote)
    _ok(cli("-c", "system prune -a -f"))
    _leases_expire(facade)
    _ok(cli("-c", f"pull --insecure-registry {remote}"))
    _ok(cli("-c", f"run --rm --network none {remote} true"))
