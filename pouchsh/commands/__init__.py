"""The command table's contents: importing a module here registers its declarations in ``COMMANDS``.

Command modules import only ``pouchsh.signature`` and ``pouchsh.values`` at module level; a manager, and
with it gRPC, is reached through ``ctx.managers`` when a command runs, so start-up stays fast.
"""

from __future__ import annotations

import importlib

from pouchsh.signature import COMMANDS, CommandTable

__all__ = ["load"]

_MODULES = (
    "pouchsh.builtins",
    "pouchsh.commands.containers",
    "pouchsh.commands.inspection",
    "pouchsh.commands.health",
    "pouchsh.commands.images",
    "pouchsh.commands.volumes",
    "pouchsh.commands.networks",
    "pouchsh.commands.system",
    "pouchsh.commands.compose",
    "pouchsh.commands.upgrade",
    "pouchsh.commands.contexts",
    "pouchsh.commands.pods",
    "pouchsh.commands.lxcfs",
    "pouchsh.commands.checkpoints",
)
_loaded = False


def load() -> CommandTable:
    """Import every command module once and return the filled table."""
    global _loaded
    if not _loaded:
        for name in _MODULES:
            importlib.import_module(name)
        _loaded = True
    return COMMANDS
