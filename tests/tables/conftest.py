"""The tables suite (docker's listings, --format, what a statement prints) shares the reliability suite's
fixtures: ``roots``, ``shell`` (an in-process session) and ``cli`` (a subprocess pouchsh)."""

from __future__ import annotations

from tests.reliability.conftest import cli, roots, shell

__all__ = ["cli", "roots", "shell"]
