"""Fixtures: see tests/networks/fixtures.py."""

from tests.networks.fixtures import mgr  # noqa: F401
