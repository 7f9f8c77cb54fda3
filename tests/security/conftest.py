"""The security suite attacks each rule of the host boundary (docs/SECURITY.md) against the real
containerd. It shares the reliability suite's fixtures: ``roots``, ``shell`` and ``cli``."""

from __future__ import annotations

from tests.reliability.conftest import cli, roots, shell

__all__ = ["cli", "roots", "shell"]
