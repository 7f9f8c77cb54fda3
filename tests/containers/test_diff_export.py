"""``diff`` and ``export`` against the real containerd: what a container changed, and its filesystem as
a tar, from the prompt's language and the manager."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.containerd

CHANGE = "echo x > /new; echo y >> /etc/passwd; rm /bin/true; mkdir /d; ln -s / /d/up"


def test_diff_reports_added_changed_and_deleted(pouchsh: Any) -> None:
    result = pouchsh(f"run --name fresh busybox true; run --name b busybox sh -c '{CHANGE}'; diff fresh", extra=["--json"])
    assert result.returncode == 0, result.stderr
    # runc's mount points (/etc/hosts ...) are not the container's changes: a fresh container has none.
    assert json.loads(result.stdout) == []
    result = pouchsh("diff b", extra=["--json"])
    assert json.loads(result.stdout) == [
        {"kind": "C", "path": "/bin"}, {"kind": "D", "path": "/bin/true"},
        {"kind": "A", "path": "/d"}, {"kind": "A", "path": "/d/up"},
        {"kind": "C", "path": "/etc"}, {"kind": "C", "path": "/etc/passwd"},
        {"kind": "A", "path": "/new"},
    ]
    # Running containers too, and in a pipeline.
    result = pouchsh("run -d --name live busybox sh -c 'touch /made; sleep 60'; "
                     "while (diff live | where path == /made | length) == 0 { }; "
                     "diff live | where kind == A | get path", extra=["--json"])
    assert result.returncode == 0, result.stderr
    assert "/made" in json.loads(result.stdout.splitlines()[-1])


def test_diff_and_export_bad_input(pouchsh: Any, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    for script, kind in [("diff nosuch", "not-found"), (f"export -o {tmp_path}/x.tar nosuch", "not-found"),
                         (f"export -o {tmp_path}/missing/x.tar nosuch", "invalid-argument")]:
        result = pouchsh(script)
        assert result.returncode != 0 and f"error[{kind}]" in result.stderr.decode(), (script, result.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing half-made


def test_export_writes_the_containers_filesystem(pouchsh: Any, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    out = tmp_path / "b.tar"
    result = pouchsh(f"run --name b busybox sh -c '{CHANGE}'; export -o {out} b | get size", extra=["--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == out.stat().st_size
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("new").read() == b"x\n"  # type: ignore[union-attr]
        assert tar.getmember("d/up").issym() and tar.getmember("d/up").linkname == "/"
    assert "bin/true" not in names and "bin/busybox" in names
    assert [p.name for p in tmp_path.iterdir()] == ["b.tar"]  # no temporary file left beside it
    # Without -o, the archive goes to standard output (not a terminal here).
    result = pouchsh("export b")
    assert result.returncode == 0, result.stderr
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        assert "new" in tar.getnames()
