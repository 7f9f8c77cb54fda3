"""Builtin commands: filters, closures over items, formats, output, shell commands and help.

Importing this package registers every builtin in ``pouchsh.signature.COMMANDS``.
"""

from __future__ import annotations

from pouchsh.builtins import filters, formats, help, iterate, output, shell

__all__ = ["filters", "formats", "help", "iterate", "output", "shell"]
