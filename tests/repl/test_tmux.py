"""End to end in a real terminal: pouchsh in tmux against the test containerd.

Keys go in with ``send-keys`` and the screen comes back with ``capture-pane``; every wait is a poll with
a deadline on what the screen shows.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.poll import poll

pytestmark = [
    pytest.mark.containerd,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    """One tmux server of our own (``-L``), one window running pouchsh."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.server = f"pouchsh-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = f"env {exports} {command}; echo EXITED:$?; sleep 600"
        self.tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "50", script)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.server, *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def screen(self, *, colour: bool = False) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-200", *(["-e"] if colour else []))

    def wait_for(self, check: Callable[[str], bool], what: str, *, timeout: float = 20,
                 colour: bool = False) -> str:
        last = ""

        def ready() -> str | None:
            nonlocal last
            last = self.screen(colour=colour)
            return last if check(last) else None

        return poll(ready, lambda: f"{what}; the screen:\n{last}", timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def terminal(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path) -> Iterator[Terminal]:
    env = {
        "POUCHSH_ROOT": str(tmp_path / "root"),
        "POUCHSH_RUN": str(tmp_path / "run"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    base = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace]
    # a container to list and to complete by name
    subprocess.run([*base, "-c", "run -d --name webfront busybox sleep 300"], env={**os.environ, **env},
                   check=True, capture_output=True, timeout=60)
    term = Terminal(" ".join(shlex.quote(part) for part in base), env)
    term.script = lambda script: subprocess.run([*base, "-c", script], env={**os.environ, **env},  # type: ignore[attr-defined]
                                                capture_output=True, text=True, timeout=60, check=False)
    try:
        yield term
    finally:
        term.close()
        subprocess.run([*base, "-c", "ps -a | rm -f"], env={**os.environ, **env}, capture_output=True,
                       timeout=60, check=False)


def prompts(screen: str) -> int:
    return sum(1 for line in screen.splitlines() if line.startswith("pouch("))


def test_a_session_in_a_real_terminal(terminal: Terminal, namespace: str) -> None:
    screen = terminal.wait_for(lambda s: f"pouch({namespace})>" in s, "the first prompt")
    assert "Type `help`" in screen
    terminal.wait_for(lambda s: " up " in s, "the toolbar to show containerd up")

    # ps lists the container (two columns: the full ps table folds its cells at this width)
    terminal.type("ps | select name status")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "webfront" in s and prompts(s) >= 2, "ps to list webfront")

    # Tab completes the live container name (from the watch cache)
    terminal.type("inspect webf")
    terminal.keys("Tab")
    terminal.wait_for(lambda s: "inspect webfront" in s, "Tab to complete the container name")
    terminal.keys("C-u")

    # an error is shown in colour with a caret under the span
    terminal.type("rnu busybox")
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda s: "error[check]" in s and "^^^" in s, "the check error",
                               colour=True)
    headline = next(line for line in screen.splitlines() if "error[check]" in line)
    caret = next(line for line in screen.splitlines() if "^^^" in line)
    assert "31m" in headline and "31m" in caret  # red (tmux re-encodes the SGR sequences)
    assert "did you mean `run`?" in screen

    # Ctrl-C interrupts a long sleep and the prompt comes back. Two races with prompt_toolkit, each
    # answered as a user would: a Ctrl-C that lands while the prompt is still handing the terminal back is
    # lost (press again), and one that lands before the input was accepted clears the line at the prompt
    # (the screen can lose its toolbar for a moment while redrawing, which looks like the run started):
    # then the sleep never ran, so type it again.
    for _ in range(5):
        before = prompts(terminal.screen())
        terminal.type("sleep 1m")
        terminal.keys("Enter")
        # the prompt (and with it the toolbar below it) is gone once the input runs
        terminal.wait_for(lambda s: s.rstrip().splitlines()[-1].endswith("sleep 1m"), "the sleep to start")
        for _ in range(5):
            terminal.keys("C-c")
            try:
                screen = terminal.wait_for(lambda s: prompts(s) > before, "the prompt after Ctrl-C", timeout=6)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"Ctrl-C never brought the prompt back:\n{terminal.screen()}")
        if "interrupted" in screen:
            break
    else:
        raise AssertionError(f"the sleep was never interrupted:\n{terminal.screen()}")

    # Ctrl-D leaves with the last command's status, as bash does (here the interrupted sleep's)
    terminal.keys("C-d")
    screen = terminal.wait_for(lambda s: "EXITED:" in s, "pouchsh to exit")
    assert "EXITED:130" in screen


def test_ctrl_c_sends_a_foreground_container_its_stop_signal(terminal: Terminal, namespace: str) -> None:
    terminal.wait_for(lambda s: f"pouch({namespace})>" in s, "the first prompt")
    terminal.type("run --name fg --stop-timeout 1 busybox sleep 600")
    terminal.keys("Enter")
    # running: the toolbar is gone and containerd has the container
    terminal.wait_for(lambda s: s.rstrip().splitlines()[-1].endswith("sleep 600"), "the run to start")
    poll(lambda: "running" in terminal.script("ps | where name == fg | get status").stdout,  # type: ignore[attr-defined]
         "the foreground container to run", 20)
    before = prompts(terminal.screen())
    terminal.keys("C-c")
    # Well within the sleep's 600 s; the deadline is generous because a loaded CI host is slow to stop.
    terminal.wait_for(lambda s: prompts(s) > before, "the prompt after Ctrl-C", timeout=60)
    # sleep as PID 1 ignores SIGTERM: the manager kills it once the stop timeout (1 s) has passed
    poll(lambda: "exited" in terminal.script("ps -a | where name == fg | get status").stdout,  # type: ignore[attr-defined]
         "the foreground container to be stopped", 20)
