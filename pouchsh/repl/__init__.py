"""The interactive prompt of pouchsh (prompt_toolkit).

``main(...)`` is what ``pouchsh`` runs when stdin is a terminal; the rest is importable for tests:
`build_session` (the PromptSession), `Repl` (the read-run loop), `ContainerdStatus` (the toolbar's
probe) and `LiveNames` (completion's source of live object names).
"""

from __future__ import annotations

from pouchsh.repl.app import WELCOME, Shell, main
from pouchsh.repl.live import LiveNames
from pouchsh.repl.loop import Engine, Repl
from pouchsh.repl.session import build_session, history_path, open_history
from pouchsh.repl.toolbar import ContainerdStatus

__all__ = [
    "WELCOME",
    "ContainerdStatus",
    "Engine",
    "LiveNames",
    "Repl",
    "Shell",
    "build_session",
    "history_path",
    "main",
    "open_history",
]
