"""Declarations of the system commands (filled in by the system manager work)."""
