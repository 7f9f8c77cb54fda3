"""``start -a -i``: a created container started attached, its stdin forwarded, its exit status kept."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.containerd


def test_start_attached_with_stdin(pouchsh: Any) -> None:
    assert pouchsh("create -i --name s busybox sh -c 'cat; exit 4'").returncode == 0
    result = pouchsh("start -a -i s", input=b"hello\n")
    assert (result.returncode, result.stdout) == (4, b"hello\n"), result.stderr
    # again, after it exited: docker's start of an exited container
    result = pouchsh("start -ai s", input=b"again\n")
    assert (result.returncode, result.stdout) == (4, b"again\n"), result.stderr
