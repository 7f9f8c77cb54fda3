"""Declarations of the networks commands (filled in by the networks manager work)."""
