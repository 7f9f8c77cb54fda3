"""Fixtures of the compose suite: the reliability suite's ``roots``, ``shell`` and ``cli``, and
``project(text, **files)``, which writes a compose.yaml (and other files) into a fresh directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.conftest import cli, roots, shell

__all__ = ["cli", "project", "roots", "shell"]


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "proj", **files: str) -> Path:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        (directory / "compose.yaml").write_text(text)
        for file, content in files.items():
            (directory / file.replace("__", "/")).write_text(content)
        return directory

    return write
