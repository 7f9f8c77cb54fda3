"""containerd SIGKILLed in the middle of a script that provisions 30 containers.

The test runs its own containerd, started through ctrd's supervisor the way pouchsh starts its embedded
one (data root and run root in a temp dir), and lets pouchsh find it on its own: no --address, no
$CONTAINERD_ADDRESS, no system socket. Expected, in order:

The kill lands at a chosen moment: the containers run on a runc wrapper that, while a "hold" file exists,
stops before a given runc verb (``start``, ``create``) until the test has killed containerd.

1. the script fails with ``error[unavailable]`` and names the statement (file, line, source);
2. the containers already running survive (their shims outlive containerd);
3. the next pouchsh command brings the managed containerd back and works;
4. a rerun of the same (idempotent) script completes: 30 containers, all running, names unique;
5. after removing them nothing is left: no containers, tasks, active snapshots, leases, names, state or
   FIFO directories, and no IP allocations.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

NS = "provision"
COUNT = 30
KILL_AT = 8
SCRIPT = """# provision p1..p{count}; safe to run again
for i in 1..{count} {{
    let found = (ps -a | where name == "p$i")
    if ($found | length) == 0 {{
        if $i mod 2 == 0 {{
            run -d --runtime {runtime} --network none --name "p$i" busybox sleep 600
        }} else {{
            run -d --runtime {runtime} --name "p$i" busybox sleep 600
        }}
    }} else if $found.0.status != running {{
        start "p$i"
    }}
}}
"""


@pytest.fixture
def managed(containerd_address: str) -> Iterator[Any]:
    """A containerd of this test's own, where pouchsh's embedded-containerd discovery will find it."""
    from ctrd.daemon import Embedded, start_embedded, stop_embedded

    base = Path(tempfile.mkdtemp(prefix="pk-", dir="/tmp"))
    embedded = Embedded(data_root=base / "root", run_root=base / "run")
    start_embedded(embedded, timeout=60)
    try:
        yield embedded
    finally:
        try:
            _remove_everything(embedded)
        finally:
            stop_embedded(embedded)
            shutil.rmtree(base, ignore_errors=True)


class Hold:
    """A runc wrapper that pauses before ``verb`` while the hold file exists, so the test knows which
    call containerd dies in."""

    def __init__(self, directory: Path, verb: str) -> None:
        self.hold, self.held = directory / "hold", directory / "held"
        self.binary = directory / "held-runc"
        self.binary.write_text(
            "#!/bin/sh\n"
            f'if [ -e {self.hold} ]; then for a in "$@"; do if [ "$a" = {verb} ]; then\n'
            f"  touch {self.held}; while [ -e {self.hold} ]; do sleep 0.02; done\n"
            "fi; done; fi\n"
            f'exec {shutil.which("runc")} "$@"\n'
        )
        self.binary.chmod(0o755)

    def arm(self) -> None:
        self.hold.touch()

    def wait_held(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.held.exists():
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "runc was never reached"
            time.sleep(0.01)

    def release(self) -> None:
        self.hold.unlink(missing_ok=True)


def _client(embedded: Any) -> Any:
    import ctrd

    return ctrd.Client(str(embedded.socket)).with_namespace(NS)


def _remove_everything(embedded: Any) -> None:
    """Whatever a test left: containers through pouchsh (so CNI is undone too), then anything pouchsh could
    not remove (tasks killed, records, snapshots, leases) directly, so no shim outlives the test."""
    import ctrd
    from ctrd.daemon import start_embedded
    from tests.support.cleanup import purge_namespace

    start_embedded(embedded, timeout=60)
    _pouchsh(embedded, "-c", "ps -a -q | par-each {|id| try { rm -f $id } catch e { } }", check=False)
    root = ctrd.Client(str(embedded.socket))
    try:
        if any(n.name == NS for n in root.namespaces.list()):
            purge_namespace(root, NS)
    finally:
        root.close()


def _pouchsh(embedded: Any, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[bytes]:
    env = pouchsh_env(
        (embedded.data_root, embedded.run_root),
        POUCHSH_SYSTEM_SOCKET=str(embedded.run_root / "no-system-containerd.sock"),
    )
    env.pop("CONTAINERD_ADDRESS", None)
    argv = [sys.executable, "-m", "pouchsh", "--namespace", NS, *args]
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=timeout, cwd=REPO, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc


def _leftovers(embedded: Any) -> dict[str, Any]:
    client = _client(embedded)
    root, run = embedded.data_root, embedded.run_root

    def listing(path: Path) -> list[str]:
        return sorted(p.name for p in path.iterdir() if p.name not in (".lock", ".boot")) if path.is_dir() else []

    return {
        "containers": [c.id for c in client.containers.list()],
        "tasks": [t.id for t in client.tasks.list()],
        "active_snapshots": [s.name for s in client.snapshots.list() if s.kind.name.lower() == "active"],
        "leases": [lease.id for lease in client.leases.list()],
        "names": listing(root / "names" / NS),
        "state": listing(root / "containers" / NS),
        "fifos": listing(run / "fifo" / NS),
        "ips": [ip for d in (root / "networks" / "ipam").glob("*") for ip in listing(d) if ip[0].isdigit()],
    }


def _start(managed: Any, busybox_layout: Path, tmp_path: Path, verb: str) -> tuple[Any, Hold, Path, subprocess.Popen[bytes]]:
    """Provisioning under way, held before ``verb`` of the container after the first KILL_AT - 1."""
    from ctrd.imports import import_oci_layout

    client = _client(managed)
    client.namespaces.create(NS)
    import_oci_layout(client, busybox_layout)
    hold = Hold(tmp_path, verb)
    script = tmp_path / "provision.pouch"
    script.write_text(SCRIPT.format(count=COUNT, runtime=hold.binary))
    env = pouchsh_env((managed.data_root, managed.run_root), POUCHSH_SYSTEM_SOCKET=str(managed.run_root / "none.sock"))
    env.pop("CONTAINERD_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "pouchsh", "--namespace", NS, str(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while len(client.containers.list()) < KILL_AT - 1:
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the script did not get going"
        time.sleep(0.01)
    hold.arm()
    hold.wait_held(proc)
    return client, hold, script, proc


def _kill(managed: Any, hold: Hold, proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    pid = managed.pid()
    os.kill(pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    hold.release()  # the shim carries on alone, as it would after a real crash
    return pid, stderr.decode()


def test_containerd_killed_while_a_script_provisions(managed: Any, busybox_layout: Path, tmp_path: Path) -> None:
    client, hold, script, proc = _start(managed, busybox_layout, tmp_path, "start")
    running_before = {t.id for t in client.tasks.list() if t.status == "running"}
    pid, err = _kill(managed, hold, proc)

    # 1. the script failed, saying where (a `run` that fails exits 125, as docker's)
    assert proc.returncode == 125, err
    assert "error[unavailable]" in err, err
    assert f"--> {script}:" in err, err
    statement_lines = [line.strip() for line in script.read_text().splitlines() if line.strip().startswith("run")]
    assert any(line in err for line in statement_lines), err
    assert "Traceback" not in err

    # 2 + 3. the next command brings containerd back; the running containers survived it
    listing = _pouchsh(managed, "--json", "-c", "ps | get id")
    assert managed.pid() not in (None, pid)
    survivors = {t.id for t in client.tasks.list() if t.status == "running"}
    assert running_before and running_before <= survivors
    assert len(running_before) <= listing.stdout.decode().count('"')

    # 4. a rerun completes
    _pouchsh(managed, str(script))
    records = client.containers.list()
    names = [c.labels.get("pouchsh/name") for c in records]
    assert sorted(names) == sorted(f"p{i}" for i in range(1, COUNT + 1))
    assert {t.id for t in client.tasks.list() if t.status == "running"} == {c.id for c in records}
    left = _leftovers(managed)
    assert left["leases"] == [], left
    assert len(left["active_snapshots"]) == COUNT and len(left["names"]) == COUNT, left
    assert len(left["ips"]) == COUNT // 2, left  # the odd ones are on the default bridge

    # 5. nothing orphaned once they are removed
    _pouchsh(managed, "-c", "ps -a -q | rm -f")
    assert _leftovers(managed) == {k: [] for k in left}


def test_containerd_killed_during_task_create_then_start_works(managed: Any, busybox_layout: Path, tmp_path: Path) -> None:
    client, hold, script, proc = _start(managed, busybox_layout, tmp_path, "create")
    _, err = _kill(managed, hold, proc)
    assert "error[unavailable]" in err, err
    _pouchsh(managed, str(script))
    assert len(client.containers.list()) == COUNT
