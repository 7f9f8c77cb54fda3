"""What every benchmark shares: the private containerd, namespaces with busybox, and fair timing.

``Env`` starts a containerd of its own through ctrd's supervisor (``ctrd.daemon.start_embedded``, the code
pouchsh itself uses), under a short temp dir, on first use. ``$POUCHSH_BENCH_ADDRESS`` points it at a
running containerd instead (then the restart benchmark, which kills containerd, is skipped). Each
benchmark gets namespaces of its own with busybox imported, removed at the end, so pouchsh and ``ctr``
see the same image, the same snapshotter and the same daemon.

Timing: ``interleave`` runs the contenders A B A B ... so drift on a shared machine (other processes,
page cache, containerd's own state) hits all of them alike; figures are medians over rounds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["Env", "fds", "interleave", "machine", "median", "paired", "percentile", "rss_mib", "threads", "timed"]

REPO = Path(__file__).resolve().parent.parent


def _repo_on_path() -> None:
    """The image builder and namespace purge are the test suite's (tests.support); reuse them."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


class Env:
    """The run's shared state. ``quick`` shrinks every benchmark (smoke runs); ``rounds`` is how many
    interleaved A/B rounds a comparison makes."""

    def __init__(self, *, quick: bool = False, rounds: int = 3, address: str | None = None) -> None:
        self.quick = quick
        self.rounds = rounds
        self._given_address = address or os.environ.get("POUCHSH_BENCH_ADDRESS")
        self.base = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))  # short: sockaddr_un holds 108 bytes
        self.root = self.base / "pouchsh-root"
        self.run_root = self.base / "pouchsh-run"
        self.fifo_dir = self.base / "ctr-fifo"
        for d in (self.root, self.run_root, self.fifo_dir):
            d.mkdir(mode=0o700)
        self._namespaces: list[str] = []
        self._layout: Path | None = None

    # -- containerd --------------------------------------------------------------------------------

    @cached_property
    def embedded(self) -> Any | None:
        """The private containerd's files (None when running against a given address)."""
        if self._given_address:
            return None
        from ctrd.daemon import Embedded

        return Embedded(data_root=self.base / "ctrd-root", run_root=self.base / "ctrd-run")

    @cached_property
    def address(self) -> str:
        """The containerd socket, started on first use."""
        if self.embedded is None:
            assert self._given_address
            return self._given_address
        from ctrd.daemon import start_embedded

        start_embedded(self.embedded, timeout=60)
        return str(self.embedded.socket)

    @cached_property
    def client(self) -> Any:
        import ctrd

        return ctrd.Client(self.address)

    def containerd_pid(self) -> int | None:
        return self.embedded.pid() if self.embedded is not None else None

    def kill_containerd(self) -> None:
        """SIGKILL the private containerd (its shims and containers survive, as after a crash)."""
        pid = self.containerd_pid()
        if pid is None:
            raise RuntimeError("no private containerd to kill")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.embedded.pid() is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd {pid} survived SIGKILL")
            time.sleep(0.005)

    def start_containerd(self) -> int:
        from ctrd.daemon import start_embedded

        return start_embedded(self.embedded, timeout=60)

    # -- namespaces --------------------------------------------------------------------------------

    def namespace(self, stem: str) -> str:
        """A fresh namespace with busybox (``docker.io/library/busybox:latest``) imported and unpacked."""
        from ctrd.imports import import_oci_layout

        name = f"{stem}-{uuid.uuid4().hex[:6]}"
        self.client.namespaces.create(name, {"pouchsh.bench": stem})
        self._namespaces.append(name)
        import_oci_layout(self.client.with_namespace(name), self.busybox_layout())
        return name

    def busybox_layout(self) -> Path:
        if self._layout is None:
            _repo_on_path()
            from tests.support.images import build_busybox_layout

            self._layout = build_busybox_layout(self.base / "busybox-layout")
        return self._layout

    def managers(self, namespace: str) -> Any:
        """An in-process ``managers.Managers`` facade on ``namespace`` with the bench's data roots."""
        from managers import Managers

        return Managers(address=self.address, namespace=namespace, root=self.root, run_root=self.run_root)

    def session(self, namespace: str, facade: Any | None = None) -> Any:
        """An in-process pouchsh ``Session`` (the REPL's engine) on ``namespace``; output is discarded
        unless read from ``session.rt.stdout`` (a BytesIO). ``facade`` reuses a Managers facade."""
        import io

        from pouchsh.scope import Runtime
        from pouchsh.session import Session

        facade = facade or self.managers(namespace)
        runtime = Runtime(
            managers_factory=lambda: facade, stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO(),
            env={**os.environ, "POUCHSH_ROOT": str(self.root), "POUCHSH_RUN": str(self.run_root)},
        )
        return Session(runtime)

    # -- processes ---------------------------------------------------------------------------------

    def ctr_argv(self, namespace: str, *args: str) -> list[str]:
        return ["ctr", "--address", self.address, "-n", namespace, *args]

    def ctr(self, namespace: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.ctr_argv(namespace, *args), capture_output=True, check=check, stdin=subprocess.DEVNULL)

    def pouchsh_argv(self, namespace: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "pouchsh", "--address", self.address, "--namespace", namespace, *args]

    def pouchsh_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"POUCHSH_ROOT": str(self.root), "POUCHSH_RUN": str(self.run_root)})
        env.pop("CONTAINERD_NAMESPACE", None)
        # An installed pouchsh runs from byte-compiled files (pip compiles them); without them every
        # start would compile ~100 modules first (≈ 0.3 s here). See compile_sources().
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def pouchsh(self, namespace: str, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            self.pouchsh_argv(namespace, *args), capture_output=True, env=self.pouchsh_env(),
            stdin=subprocess.DEVNULL, timeout=timeout, cwd=REPO, check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"pouchsh {' '.join(args)[:200]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
        return proc

    def compile_sources(self) -> None:
        """Byte-compile the packages once, as an installation would, so process start-ups are fair."""
        import compileall

        for package in ("grammar", "pouchsh", "managers", "ctrd"):
            compileall.compile_dir(str(REPO / package), quiet=1)

    def pouchsh_available(self) -> bool:
        """Is the command line there yet (``python -m pouchsh``)?"""
        return (REPO / "pouchsh" / "__main__.py").exists()

    # -- teardown ----------------------------------------------------------------------------------

    def close(self) -> None:
        try:
            if "client" in self.__dict__:
                _repo_on_path()
                from tests.support.cleanup import purge_namespace

                for ns in self._namespaces:
                    with contextlib.suppress(Exception):
                        purge_namespace(self.client, ns)
                self.client.close()
        finally:
            if self.embedded is not None and "address" in self.__dict__:
                from ctrd.daemon import stop_embedded

                stop_embedded(self.embedded)
            shutil.rmtree(self.base, ignore_errors=True)


# -- timing ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


def interleave(contenders: dict[str, Callable[[], float | None]], rounds: int) -> dict[str, list[float]]:
    """Run each contender once per round, in turn (A B A B ...). A contender returns the quantity it
    measured, or None to be timed as a whole (seconds). Returns each contender's samples."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            value = fn()
            samples[name].append(time.perf_counter() - start if value is None else value)
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(median of a_i / b_i, median of a_i - b_i) over rounds measured side by side."""
    return statistics.median(x / y for x, y in zip(a, b)), statistics.median(x - y for x, y in zip(a, b))


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -- process resources -------------------------------------------------------------------------------


def rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or 'self'}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def fds(pid: int | None = None) -> int:
    return len(os.listdir(f"/proc/{pid or 'self'}/fd"))


def threads(pid: int | None = None) -> int:
    return len(os.listdir(f"/proc/{pid or 'self'}/task"))


def machine() -> str:
    """One line naming the machine the figures came from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    versions = []
    for argv in (["containerd", "--version"], ["runc", "--version"]):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.split("\n")[0]
            versions.append(" ".join(out.split()[:3]))
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}){mem}, kernel {os.uname().release}, Python {sys.version.split()[0]}, "
        f"{'; '.join(versions)}; load average {load:.2f} at start"
    )
