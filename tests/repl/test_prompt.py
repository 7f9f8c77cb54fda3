"""The prompt driven through prompt_toolkit's pipe input: Enter, continuation, history, keys, Tab.

``is_complete`` here is a bracket counter standing in for the grammar's, so that these tests pin the
key bindings themselves; test_repl.py drives the whole REPL with the real grammar.
"""

from __future__ import annotations

import contextvars
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input.base import PipeInput

from pouchsh.completion import PouchCompleter, StaticNames
from pouchsh.repl.session import build_session, continuation, history_path, open_history
from pouchsh.signature import CommandTable, Flag, Param, command
from tests.support.poll import poll

UP, RIGHT, CTRL_C, CTRL_D, CTRL_R, ALT_ENTER = "\x1b[A", "\x1b[C", "\x03", "\x04", "\x12", "\x1b\r"

TABLE = CommandTable()
command("ps", help="List containers", flags=[Flag("all", short="a", help="Show all")], table=TABLE)(print)
command("rm", help="Remove", params=[Param("containers", type="container", rest=True)], table=TABLE)(print)
command("network ls", help="List networks", table=TABLE)(print)


def balanced(text: str) -> bool:
    return sum(text.count(c) for c in "{[(") <= sum(text.count(c) for c in "}])")


def prompt_text() -> StyleAndTextTuples:
    return [("class:prompt", "pouch> ")]


def make_session(history: Any = None, names: dict[str, list[str]] | None = None) -> PromptSession[str]:
    completer = PouchCompleter(TABLE, names=StaticNames(names or {}))
    return build_session(completer=completer, is_complete=balanced, prompt=prompt_text,
                         history=history or InMemoryHistory())


def ask(pipe: PipeInput, session: PromptSession[str], keys: str) -> str:
    pipe.send_text(keys)
    return session.prompt()


def test_enter_runs_a_complete_line(pipe: PipeInput) -> None:
    assert ask(pipe, make_session(), "ps -a\r") == "ps -a"


def test_enter_continues_an_open_block_and_indents(pipe: PipeInput) -> None:
    text = ask(pipe, make_session(), "for i in 1..3 {\recho $i\r}\r")
    assert text == "for i in 1..3 {\n    echo $i\n}"


def test_alt_enter_always_inserts_a_newline(pipe: PipeInput) -> None:
    assert ask(pipe, make_session(), "ps" + ALT_ENTER + "| length\r") == "ps\n| length"


def test_backslash_continues(pipe: PipeInput) -> None:
    assert ask(pipe, make_session(), "run -d \\\r busybox\r") == "run -d \\\n busybox"


def test_ctrl_c_clears_the_line_and_ctrl_d_exits(pipe: PipeInput) -> None:
    session = make_session()
    with pytest.raises(KeyboardInterrupt):
        ask(pipe, session, "half typed" + CTRL_C)
    with pytest.raises(EOFError):
        ask(pipe, session, CTRL_D)
    # Ctrl-D on a non-empty line deletes a character instead of exiting
    assert ask(pipe, session, "psx\x1b[D" + CTRL_D + "\r") == "ps"


def test_history_up_and_ctrl_r_search(pipe: PipeInput, tmp_path: Path) -> None:
    path = tmp_path / "history"
    session = make_session(history=FileHistory(str(path)))
    ask(pipe, session, "volume ls\r")
    ask(pipe, session, "ps -a\r")
    # a new session reads the file: Up recalls the last entry, Ctrl-R finds an older one
    session = make_session(history=FileHistory(str(path)))
    assert ask(pipe, session, UP + "\r") == "ps -a"
    assert ask(pipe, session, CTRL_R + "vol\r\r") == "volume ls"


def test_auto_suggestion_from_history_accepted_with_right_arrow(pipe: PipeInput) -> None:
    history = InMemoryHistory()
    history.append_string("network ls --quiet")
    session = make_session(history=history)
    thread, result = run_prompt_in_thread(session)
    pipe.send_text("netw")
    # the suggestion is computed after the keystroke, off the key path
    poll(lambda: session.default_buffer.suggestion is not None, "a suggestion from history", 5)
    assert session.default_buffer.suggestion.text == "ork ls --quiet"
    pipe.send_text(RIGHT + "\r")
    thread.join(5)
    assert result["text"] == "network ls --quiet"


def test_history_path_honours_xdg_and_expands_home(tmp_path: Path) -> None:
    assert history_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "pouchsh" / "history"
    home = history_path({})
    assert "~" not in str(home) and str(home).endswith(".local/share/pouchsh/history")
    history = open_history(tmp_path / "deep" / "pouchsh" / "history")
    history.append_string("ps")
    assert (tmp_path / "deep" / "pouchsh" / "history").read_text().strip().endswith("+ps")


def test_continuation_prompt_is_as_wide_as_the_prompt() -> None:
    assert "".join(text for _, text in continuation(7, 1, 0)) == "...... "


def run_prompt_in_thread(session: PromptSession[str]) -> tuple[threading.Thread, dict[str, str]]:
    result: dict[str, str] = {}
    ctx = contextvars.copy_context()  # the pipe input is a context variable of this thread
    thread = threading.Thread(target=lambda: result.setdefault("text", ctx.run(session.prompt)), daemon=True)
    thread.start()
    return thread, result


def test_tab_completes_a_command_and_a_live_name(pipe: PipeInput) -> None:
    session = make_session(names={"container": ["web-frontend", "db"]})
    thread, result = run_prompt_in_thread(session)
    pipe.send_text("netw\t")
    poll(lambda: session.default_buffer.text == "network", "tab to complete the command", 5)
    pipe.send_text("\x15rm we\t")  # Ctrl-U clears; the completion runs in a thread
    poll(lambda: session.default_buffer.text == "rm web-frontend", "tab to complete the live name", 5)
    pipe.send_text("\r")
    thread.join(5)
    assert result["text"] == "rm web-frontend"


def test_unknown_command_words_are_marked_while_typing() -> None:
    from prompt_toolkit.document import Document

    from pouchsh.repl.highlight import UNKNOWN_COMMAND, CommandAwareLexer

    known = {"ps", "rm", "network", "network ls", "up"}
    lexer = CommandAwareLexer(lambda name: name in known)

    def marked(text: str) -> list[str]:
        line = lexer.lex_document(Document(text))(0)
        return [t for style, t, *_ in line if UNKNOWN_COMMAND in style]

    assert marked("ps -a | rm x") == []
    assert marked("rnu busybox") == ["rnu"]
    assert marked("network ls") == []
    assert marked("network lss") == ["lss"]
    assert marked("def up [] { ps }; up") == []
    assert marked("def down [] { ps }") == []  # the name being defined is not a call
    assert marked("run --name for busybox") == ["run"]  # an argument is never a command word


def test_an_input_giving_a_password_stays_out_of_the_history_file(pipe: PipeInput, tmp_path: Path) -> None:
    from pouchsh.repl.app import Shell

    shell = Shell(history=InMemoryHistory())  # builds no containerd connection until a command runs
    path = tmp_path / "history"
    session = make_session(history=open_history(path, keep=shell.keep_in_history))
    ask(pipe, session, "login -u ci -p S3cret-pw localhost:5000\r")
    ask(pipe, session, "login -u ci --password-stdin localhost:5000\r")
    ask(pipe, session, "run -p 8080:80 busybox\r")
    stored = path.read_text()
    assert "S3cret-pw" not in stored
    assert "+login -u ci --password-stdin localhost:5000" in stored and "+run -p 8080:80 busybox" in stored
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # this session's own list (the arrow keys) still has it
    assert "login -u ci -p S3cret-pw localhost:5000" in session.history.get_strings()
