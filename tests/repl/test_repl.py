"""The whole REPL (language session, grammar, prompt) through prompt_toolkit's pipe input.

No containerd is needed: these inputs use only the language and the shell builtins.
"""

from __future__ import annotations

import re
import signal
import time

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input.base import PipeInput

from pouchsh.repl import WELCOME, Shell
from tests.repl.conftest import interrupt_once_running

CTRL_D = "\x04"


@pytest.fixture
def shell(tmp_path: object) -> Shell:
    return Shell(address="unix:///nonexistent/containerd.sock", history=InMemoryHistory())


def test_statements_share_one_scope_and_exit_gives_the_status(
    pipe: PipeInput, shell: Shell, capfd: pytest.CaptureFixture[str]
) -> None:
    pipe.send_text('let web = {name: web, port: 80}\r')
    pipe.send_text('echo "name=$web.name"\r')
    pipe.send_text("exit 3\r")
    assert shell.repl.loop() == 3
    assert "name=web" in capfd.readouterr().out


def test_a_block_spans_lines_until_it_is_closed(pipe: PipeInput, shell: Shell,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    pipe.send_text("for i in 1..3 {\r")
    pipe.send_text('echo "item $i"\r')
    pipe.send_text("}\r")
    pipe.send_text(CTRL_D)
    assert shell.repl.loop() == 0
    out = capfd.readouterr().out
    assert ["item 1", "item 2", "item 3"] == [line for line in out.splitlines() if line.startswith("item")]


def test_errors_are_coloured_with_their_caret_and_nothing_runs(
    pipe: PipeInput, shell: Shell, capfd: pytest.CaptureFixture[str]
) -> None:
    pipe.send_text('echo before; rnu busybox\r')
    pipe.send_text(CTRL_D)
    assert shell.repl.loop() == 2
    captured = capfd.readouterr()
    assert "before" not in captured.out  # a check error runs nothing
    assert "\x1b[1;31merror[check]:" in captured.err
    assert "\x1b[1;31m^^^\x1b[0m" in captured.err
    assert "did you mean `run`?" in captured.err


def test_a_syntax_error_is_submitted_not_continued(pipe: PipeInput, shell: Shell,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    pipe.send_text("echo )\r")
    pipe.send_text(CTRL_D)
    assert shell.repl.loop() == 2
    assert "error[parse]" in capfd.readouterr().err


def test_completion_sees_variables_and_fields_of_the_live_scope(pipe: PipeInput, shell: Shell) -> None:
    pipe.send_text("let web = {id: abc, labels: {tier: front}}\r" + CTRL_D)
    shell.repl.loop()
    completer = shell.session.completer
    assert completer is not None

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert complete("echo $we") == ["$web"]
    assert complete("echo $web.") == ["id", "labels"]
    assert complete("echo $web.labels.t") == ["tier"]
    assert "network" in complete("netw")


def test_ctrl_c_cancels_a_running_command_and_the_prompt_comes_back(
    pipe: PipeInput, shell: Shell, capfd: pytest.CaptureFixture[str]
) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    pipe.send_text("sleep 1m\r")
    pipe.send_text('echo "back again"\r' + CTRL_D)
    interrupt_once_running()
    try:
        started = time.monotonic()
        shell.repl.loop()
        elapsed = time.monotonic() - started
    finally:
        signal.signal(signal.SIGINT, previous)
    captured = capfd.readouterr()
    assert "interrupted" in captured.err
    assert "back again" in captured.out
    assert elapsed < 30  # the minute-long sleep did not run out


def test_welcome_says_how_to_get_help() -> None:
    assert "`help`" in WELCOME and "Ctrl-D" in WELCOME


def test_the_toolbar_shows_address_and_state(shell: Shell) -> None:
    text = "".join(t for _, t in shell.toolbar())
    assert "unix:///nonexistent/containerd.sock" in text and "connecting" in text
    shell.status.check_now()
    text = "".join(t for _, t in shell.toolbar())
    assert " down " in text and "namespace default" in text


def test_each_input_is_named_so_late_errors_quote_their_own_line(shell: Shell) -> None:
    from ctrd.errors import PouchError

    with pytest.raises(PouchError) as first:
        shell.engine.compile("rnu busybox", "<repl>")
    shell.engine.compile("echo fine", "<repl>")  # the next input, read while the first still reports
    shown = re.sub(r"\x1b\[[0-9;]*m", "", shell.engine.format(first.value))
    assert "--> <repl:1>:1:1" in shown and "1 | rnu busybox" in shown


def test_output_goes_through_the_current_sys_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from pouchsh.repl.app import LiveStream

    stream = LiveStream("stdout")
    replaced = io.StringIO()
    monkeypatch.setattr("sys.stdout", replaced)  # what patch_stdout does while the prompt is up
    stream.write("caf\u00e9 \u2713\n".encode()[:4])  # a character split across writes
    stream.write("caf\u00e9 \u2713\n".encode()[4:])
    assert replaced.getvalue() == "caf\u00e9 \u2713\n"
