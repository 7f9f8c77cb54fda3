"""Builtin commands: filters, shell commands and help."""
