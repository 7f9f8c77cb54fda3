"""Declarations of the images commands (filled in by the images manager work)."""
