"""scripts/examples/containers.pouch runs against the test containerd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.containerd

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "containers.pouch"


def test_containers_example_runs(pouchsh: Any) -> None:
    result = pouchsh(f"source {EXAMPLE}")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "hello from a container" in out and "hello exited with 3" in out
    assert "started worker (running)" in out and "inside: " in out and "tick" in out
    assert out.rstrip().endswith("0")
