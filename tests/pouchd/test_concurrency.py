"""Many docker-py clients at once: creating, starting, waiting for and removing containers in parallel,
while a long request (logs -f) is held open: no error, no leftover, nothing blocks anything else."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.pouchd.conftest import Daemon, UnixHTTPConnection

pytestmark = pytest.mark.containerd

CLIENTS = 8
ROUNDS = 2


def test_parallel_clients_leave_nothing_behind(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "longlived", "busybox", "sleep", "300", check=True)
    # A follow that never ends while the test runs: it must not hold up anyone.
    follower = UnixHTTPConnection(daemon.socket, timeout=60)
    follower.request("GET", "/v1.41/containers/longlived/logs?stdout=1&follow=1")
    assert follower.getresponse().status == 200
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> float:
        api = daemon.api()
        started = time.monotonic()
        try:
            for r in range(ROUNDS):
                cid = api.create_container("busybox", ["sh", "-c", f"exit {(n + r) % 5}"], name=f"par-{n}-{r}")["Id"]
                api.start(cid)
                assert api.wait(cid)["StatusCode"] == (n + r) % 5
                api.remove_container(cid)
        except BaseException as err:  # noqa: BLE001 (collected and reported below)
            with lock:
                errors.append(err)
        finally:
            api.close()
        return time.monotonic() - started

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(work, range(CLIENTS)))
    finally:
        follower.close()
        daemon.docker("rm", "-f", "longlived")
    assert not errors, errors[:3]
    assert daemon.docker("ps", "-aq", check=True).stdout.strip() == b""
    shell = daemon.pouchsh("--json", "-c", "ps -a")
    assert shell.returncode == 0 and "par-" not in shell.stdout.decode()
