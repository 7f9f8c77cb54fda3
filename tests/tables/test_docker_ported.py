"""scripts/examples/docker-ported.pouch, a CI script of docker lines, prints what docker prints for them
line by line and exits 0 (tests/examples runs it too, and checks that it leaves nothing behind)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.containerd

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "docker-ported.pouch"

#: docker's output for the script's lines, in order (the id is the only part that varies)
EXPECTED = [
    r"[0-9a-f]{64}",                 # run -d: the full id
    r"ported-web busybox ported",    # ps --format
    r"running ported",               # inspect --format
    r"booting",                      # logs
    r"ready",
    r"hello from exec",              # exec's output
    r"exec exit: 3",
    r"run exit: 7",
    r"copied in: 0",
    r"ported-web",                   # stop: the name given
    r"ported-web",                   # rm: the name given
]


def test_the_ported_script_prints_what_docker_prints(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(str(SCRIPT), timeout=180)
    out = result.stdout.decode().splitlines()
    assert result.returncode == 0, result.stderr.decode()
    assert len(out) == len(EXPECTED), out
    for line, pattern in zip(out, EXPECTED):
        assert re.fullmatch(pattern, line), (line, pattern)
