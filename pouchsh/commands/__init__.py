"""The command table's contents: importing a module here registers its declarations in ``COMMANDS``.

Command modules import only ``pouchsh.signature`` and ``pouchsh.values`` at module level; a manager, and
with it gRPC, is reached through ``ctx.managers`` when a command runs, so start-up stays fast. The
builtins are imported by ``load``; the container commands' modules are deferred (pouchsh/commands/index.py
names what each declares) and imported when the checker first meets one of their names: ``-c version``
imports one of them, not thirteen.
"""

from __future__ import annotations

import importlib

from pouchsh.signature import COMMANDS, CommandTable

__all__ = ["load"]

_loaded = False


def load() -> CommandTable:
    """Import the builtins once, defer every command module, and return the table."""
    global _loaded
    if not _loaded:
        from pouchsh.commands.index import DECLARES

        importlib.import_module("pouchsh.builtins")
        for module, names in DECLARES.items():
            COMMANDS.defer(module, names)
        _loaded = True
    return COMMANDS
