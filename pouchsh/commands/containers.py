"""Declarations of the containers commands (filled in by the containers manager work)."""
