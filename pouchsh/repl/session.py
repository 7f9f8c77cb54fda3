"""The prompt_toolkit session: highlighting, threaded completion, history, suggestions, continuation.

Everything here is built without touching containerd; the slow sources (the event cache, the status
probe) are handed in as objects that answer from memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import Completer
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory, ThreadedHistory
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.styles import Style

from pouchsh.lexer import PouchLexer
from pouchsh.repl.highlight import CommandAwareLexer
from pouchsh.repl.keys import build_key_bindings

__all__ = ["STYLE", "PrivateFileHistory", "build_session", "continuation", "history_path", "open_history"]

# ANSI colour names, so the terminal's own theme decides the exact shades (light and dark both work).
STYLE = Style.from_dict(
    {
        "pygments.keyword": "ansimagenta bold",
        "pygments.keyword.constant": "ansicyan",
        "pygments.name.function": "ansigreen bold",
        "pygments.name.builtin": "ansigreen",
        "pygments.name.variable": "ansicyan",
        "pygments.name.attribute": "ansiyellow",
        "pygments.name.label": "ansiblue",
        "pygments.string": "ansibrightgreen",
        "pygments.string.interpol": "ansicyan",
        "pygments.string.escape": "ansibrightyellow",
        "pygments.number": "ansibrightblue",
        "pygments.operator": "ansibrightmagenta",
        "pygments.comment": "ansibrightblack italic",
        "unknown-command": "ansired bold",
        "prompt": "ansigreen",
        "prompt.namespace": "ansibrightgreen bold",
        "continuation": "ansibrightblack",
        "toolbar": "bg:ansiblack ansigray",
        "toolbar.address": "bg:ansiblack ansiwhite bold",
        "toolbar.up": "bg:ansigreen ansiblack",
        "toolbar.down": "bg:ansired ansiwhite",
        "toolbar.pending": "bg:ansiyellow ansiblack",
        "toolbar.detail": "bg:ansiblack ansibrightblack",
        "bottom-toolbar": "noreverse",
        "auto-suggestion": "ansibrightblack",
    }
)


def history_path(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/pouchsh/history``, or ``~/.local/share/pouchsh/history`` (``~`` expanded)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "pouchsh" / "history"


class PrivateFileHistory(FileHistory):
    """A history file that an input ``keep`` refuses never reaches (one giving a secret flag its value,
    ``login -p ...``); such an input stays in this session's in-memory list, for the arrow keys."""

    def __init__(self, filename: str, keep: Callable[[str], bool] | None = None) -> None:
        super().__init__(filename)
        self.keep = keep

    def store_string(self, string: str) -> None:
        if self.keep is None or self.keep(string):
            super().store_string(string)


def open_history(path: Path | None, keep: Callable[[str], bool] | None = None) -> History:
    """File history loaded in a thread (start-up does not wait for it), storing only what ``keep``
    accepts; in memory when unwritable. A new file is readable by its owner only (bash's choice)."""
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return ThreadedHistory(PrivateFileHistory(str(path), keep))


def continuation(width: int, line_number: int, wrap_count: int) -> StyleAndTextTuples:
    """The prompt of the second and later lines: dots under the first prompt, ending in a space."""
    return [("class:continuation", "." * max(width - 1, 0) + " ")]


def build_session(
    *,
    completer: Completer,
    is_complete: Callable[[str], bool],
    prompt: Callable[[], StyleAndTextTuples],
    toolbar: Callable[[], StyleAndTextTuples] | None = None,
    history: History | None = None,
    known_command: Callable[[str], bool] | None = None,
) -> PromptSession[str]:
    """A PromptSession wired for pouch: multi-line, highlighted, completed in a thread.

    With ``known_command``, command words that it rejects are shown as unknown while typing.
    """
    lexer = CommandAwareLexer(known_command) if known_command is not None else PygmentsLexer(PouchLexer)
    return PromptSession(
        message=prompt,
        multiline=True,
        prompt_continuation=continuation,
        lexer=lexer,
        style=STYLE,
        include_default_pygments_style=False,
        completer=completer,
        complete_in_thread=True,
        complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(),
        history=history if history is not None else InMemoryHistory(),
        enable_history_search=False,
        key_bindings=build_key_bindings(is_complete),
        bottom_toolbar=toolbar,
        refresh_interval=1.0 if toolbar is not None else 0,
        enable_suspend=True,
        search_ignore_case=True,
        mouse_support=False,
    )
