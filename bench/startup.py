"""Start-up: `pouchsh -c version` against `ctr version` and `xonsh -c true`, `pouchsh -c 'echo hi'` (no
containerd call: the interpreter, the language and its parser), and time to a usable prompt.

Script start-up is timed as whole processes, interleaved (pouchsh, ctr, xonsh, pouchsh, ...) so that load
from other processes hits all alike; figures are medians, of wall time and (pouchsh and ctr) of the CPU
time each process used, which the machine's load moves less. xonsh is installed with pip into a venv of its
own under the user's cache dir (kept for the next run); where pip cannot install it the figure is
skipped with a note. The interactive figure spawns ``pouchsh`` on a pseudo-terminal (answering the
cursor-position queries a terminal would), times until the prompt is drawn, then types one key and
times its echo, which shows whether anything slow blocks the first keystroke; its reference is a bare
prompt_toolkit prompt launched the same way (the floor for any prompt_toolkit shell). A last figure counts the
heavy UI modules (prompt_toolkit, rich, pygments) that ``-c version`` imports: the script path must
import none. Targets: script start-up < 120 ms; time to prompt < 200 ms.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from bench import Env, Figure
from bench.common import REPO, interleave, median

SCRIPT_TARGET_MS = 120
PROMPT_TARGET_MS = 200
UI_MODULES = ("prompt_toolkit", "rich", "pygments")
_CPR_REQUEST = b"\x1b[6n"
#: The floor for any prompt_toolkit shell: Python, prompt_toolkit and one bare prompt, nothing else.
FLOOR_ARGV = [sys.executable, "-c", "from prompt_toolkit import PromptSession; PromptSession().prompt('pouch(floor)> ')"]
#: The floor for any Python containerd client: import grpc and the stub, dial, one Version call.
GRPC_ONESHOT = (
    "import sys, grpc\n"
    "from google.protobuf import empty_pb2\n"
    "from ctrd.api.services.version.v1 import version_pb2_grpc\n"
    "channel = grpc.insecure_channel('unix://' + sys.argv[1])\n"
    "print(version_pb2_grpc.VersionStub(channel).Version(empty_pb2.Empty()).version)\n"
)


def xonsh_binary() -> tuple[Path | None, str]:
    """A xonsh in a venv of its own, installed on first use; (None, why) when that is impossible."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pouchsh-bench" / "xonsh-venv"
    binary = cache / "bin" / "xonsh"
    if binary.exists():
        return binary, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(cache)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(cache / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "xonsh"],
                       check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as err:
        detail = err.stderr.decode()[-300:] if isinstance(err, subprocess.CalledProcessError) and err.stderr else str(err)
        return None, f"xonsh could not be pip-installed into a venv here: {detail.strip()}"
    return (binary, "") if binary.exists() else (None, "pip installed xonsh without a xonsh program")


def _run(argv: list[str], env: dict[str, str] | None = None, cpu: list[float] | None = None) -> None:
    """Run ``argv`` to completion; append the CPU time it used (user + system, seconds) to ``cpu``."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)  # wait4: the child's own resource use, which Popen.wait drops
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    if cpu is not None:
        cpu.append(usage.ru_utime + usage.ru_stime)


def ui_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The top-level UI packages that a run of ``argv`` (a ``python ...`` command) imports."""
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, cwd=REPO, check=False)
    found = set()
    for line in proc.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        top = name.split(".", 1)[0]
        if top in UI_MODULES:
            found.add(top)
    return sorted(found)


def prompt_latency(argv: list[str], env: dict[str, str], timeout: float = 20.0) -> tuple[float, float]:
    """Seconds from spawn to the prompt on a pty, and from the first key typed to its echo."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell under test
        os.chdir(REPO)
        os.execvpe(argv[0], argv, {**env, "TERM": "xterm-256color"})
    start = time.perf_counter()
    seen = b""
    to_prompt = echo = float("nan")
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            chunk = _read(fd, deadline)
            seen += chunk
            if _CPR_REQUEST in chunk:
                os.write(fd, b"\x1b[1;1R")
            if re.search(rb"pouch\([^)]*\)>", seen):
                to_prompt = time.perf_counter() - start
                break
        typed = time.perf_counter()
        os.write(fd, b"Q")
        seen = b""
        while time.perf_counter() < deadline:
            seen += _read(fd, deadline)
            if b"Q" in seen:
                echo = time.perf_counter() - typed
                break
        os.write(fd, b"\x15\x04")  # Ctrl-U, Ctrl-D: leave
        _drain_until_exit(fd, pid)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return to_prompt, echo


def _read(fd: int, deadline: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.perf_counter()))
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # the child closed the pty
        return b""


def _drain_until_exit(fd: int, pid: int) -> None:
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        _read(fd, time.perf_counter() + 0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def run(env: Env) -> list[Figure]:
    if not env.pouchsh_available():
        return []
    env.compile_sources()
    namespace = env.namespace("startup")
    penv = env.pouchsh_env()
    pouchsh = env.pouchsh_argv(namespace, "-c", "version")
    ctr = env.ctr_argv(namespace, "version")
    # A script that asks containerd nothing: the interpreter, the language and its parser.
    echo = env.pouchsh_argv(namespace, "-c", "echo hi")
    rounds = 5 if env.quick else 30

    oneshot = [sys.executable, "-c", GRPC_ONESHOT, env.address]
    import_grpc = [sys.executable, "-c", "import grpc"]
    cpu: dict[str, list[float]] = {"pouchsh": [], "ctr": [], "grpc": [], "import": [], "echo": []}
    contenders = {
        "pouchsh": lambda: _run(pouchsh, penv, cpu["pouchsh"]),
        "ctr": lambda: _run(ctr, None, cpu["ctr"]),
        "grpc": lambda: _run(oneshot, penv, cpu["grpc"]),
        "import": lambda: _run(import_grpc, penv, cpu["import"]),
        "echo": lambda: _run(echo, penv, cpu["echo"]),
    }
    xonsh, why_not = xonsh_binary()
    if xonsh is not None:
        xonsh_argv = [str(xonsh), "--no-rc", "-c", "true"]
        contenders["xonsh"] = lambda: _run(xonsh_argv)
    for fn in contenders.values():  # warm the page cache and the byte-code caches
        fn()
    for values in cpu.values():
        values.clear()  # the warm-up runs
    samples = interleave(contenders, rounds)
    ms = {name: median(values) * 1000 for name, values in samples.items()}
    cpu_ms = {name: median(values) * 1000 for name, values in cpu.items()}

    figures = [
        Figure("pouchsh -c version, start-up median", ms["pouchsh"], "ms", reference=ms["ctr"],
               reference_name="ctr version", target=f"< {SCRIPT_TARGET_MS} ms",
               met=ms["pouchsh"] < SCRIPT_TARGET_MS, note=f"{rounds} interleaved runs each"),
        # CPU time moves less than wall time with the load from other work on a shared machine.
        Figure("pouchsh -c version, CPU time (user + system) median", cpu_ms["pouchsh"], "ms",
               reference=cpu_ms["ctr"], reference_name="ctr version",
               note=f"the same {rounds} runs; os.getloadavg() {os.getloadavg()[0]:.1f} at the end"),
        Figure("pouchsh -c version vs a bare Python grpc one-shot (import, dial, Version)", ms["pouchsh"], "ms",
               reference=ms["grpc"], reference_name="the one-shot",
               note=f"CPU {cpu_ms['pouchsh']:.1f} vs {cpu_ms['grpc']:.1f} ms; what is above 1× is pouchsh's own"),
    ]
    figures.append(Figure("pouchsh -c version vs python -c 'import grpc' (the same .venv), CPU time median",
                          cpu_ms["pouchsh"], "ms", reference=cpu_ms["import"], reference_name="import grpc",
                          target="≤ 1.5×", met=cpu_ms["pouchsh"] <= 1.5 * cpu_ms["import"],
                          note=f"wall {ms['pouchsh']:.1f} vs {ms['import']:.1f} ms "
                               f"({ms['pouchsh'] / ms['import']:.2f}×)"))
    figures.append(Figure("pouchsh -c 'echo hi', CPU time median", cpu_ms["echo"], "ms",
                          note=f"wall {ms['echo']:.1f} ms; no containerd call: Python, the language and its parser"))
    if "xonsh" in ms:
        figures.append(Figure("pouchsh -c version vs xonsh --no-rc -c true", ms["pouchsh"], "ms",
                              reference=ms["xonsh"], reference_name="xonsh -c true",
                              note=f"{rounds} interleaved runs each"))
    else:
        figures.append(Figure("xonsh --no-rc -c true", float("nan"), "ms", note=f"skipped: {why_not}"))

    repl_argv = env.pouchsh_argv(namespace)
    repl_env = {**penv, "XDG_DATA_HOME": str(env.base / "xdg")}
    launches: dict[str, list[tuple[float, float]]] = {"pouchsh": [], "floor": []}
    for argv, key in ((repl_argv, "pouchsh"), (FLOOR_ARGV, "floor")):
        prompt_latency(argv, repl_env)  # warm-up
    for _ in range(3 if env.quick else 10):  # interleaved: pouchsh, floor, pouchsh, ...
        launches["pouchsh"].append(prompt_latency(repl_argv, repl_env))
        launches["floor"].append(prompt_latency(FLOOR_ARGV, repl_env))
    to_prompt = median([p for p, _ in launches["pouchsh"]]) * 1000
    floor = median([p for p, _ in launches["floor"]]) * 1000
    echo = median([e for _, e in launches["pouchsh"]]) * 1000
    figures.append(Figure("interactive: time to a usable prompt (pty), median", to_prompt, "ms",
                          reference=floor, reference_name="a bare prompt_toolkit PromptSession",
                          target=f"< {PROMPT_TARGET_MS} ms", met=to_prompt < PROMPT_TARGET_MS,
                          note=f"{len(launches['pouchsh'])} interleaved launches each; containerd up"))
    figures.append(Figure("interactive: echo of the first key typed at the prompt, median", echo, "ms",
                          note="typed as soon as the prompt shows, while the background warm-up runs"))

    heavy = ui_imports(pouchsh, penv)
    figures.append(Figure("UI modules imported by pouchsh -c version", len(heavy), "modules", target="0",
                          met=not heavy, note=", ".join(heavy) or "none of " + ", ".join(UI_MODULES)))
    return figures
