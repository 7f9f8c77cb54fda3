"""The security suite attacks each rule of the host boundary (docs/SECURITY.md) against the real
containerd. It shares the reliability suite's fixtures: ``roots``, ``shell`` and ``cli``, and adds ``facade``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import cli, roots, shell

__all__ = ["cli", "facade", "roots", "shell"]


@pytest.fixture
def facade(containerd_address: str, namespace: str, roots: tuple[Path, Path]) -> Iterator[Any]:
    """The managers on the test's namespace and roots, in this process."""
    from managers import Managers

    managers = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    yield managers
    managers.close()
