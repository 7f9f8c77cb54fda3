"""Fixtures of the provisioning suite (healthchecks, transactions, compose, upgrade): the reliability
suite's ``roots``, ``shell`` and ``cli``."""

from __future__ import annotations

from tests.reliability.conftest import cli, roots, shell

__all__ = ["cli", "roots", "shell"]
