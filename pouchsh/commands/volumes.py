"""Declarations of the volumes commands (filled in by the volumes manager work)."""
