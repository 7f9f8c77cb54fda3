"""The state store: atomic, locked read-modify-write, so concurrent processes lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrd.daemon import Embedded, stop_embedded
from ctrd.errors import PouchRuntimeError
from managers.store import Store

_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from managers import Managers
    root, names = Path(sys.argv[1]), sys.argv[2:]
    volumes = Managers(root=root, run_root=root / "run", namespace="default").volumes
    for name in names:
        volumes.create(name)
    """
)


@pytest.fixture(autouse=True)
def _no_daemon_left(tmp_path: Path) -> Iterator[None]:
    """The workers' facades start an embedded containerd under the test's root (to publish their volume
    events); it goes with the test."""
    yield
    stop_embedded(Embedded.under(tmp_path, tmp_path / "run"))


def _spawn(root: Path, names: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(root), *names], stderr=subprocess.PIPE)


def test_update_is_discarded_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.json")
    with store.update() as doc:
        doc["a"] = 1
    with pytest.raises(KeyError), store.update() as doc:
        doc["b"] = 2
        raise KeyError("boom")
    assert store.read() == {"a": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_update_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.json")
    with store.update() as doc:
        assert doc == {}
    assert not store.path.exists()  # nothing to keep: no file made
    with store.update() as doc:
        doc["a"] = {"b": [1, 2]}
    inode = store.path.stat().st_ino
    with store.update() as doc:
        doc["a"]["b"] = [1, 2]  # the same value again
    assert store.path.stat().st_ino == inode  # not replaced
    with store.update() as doc:
        doc["a"]["b"].append(3)  # a change deep inside is seen
    assert store.read() == {"a": {"b": [1, 2, 3]}} and store.path.stat().st_ino != inode


def test_an_empty_state_file_is_corrupt_not_empty(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_bytes(b"")
    with pytest.raises(PouchRuntimeError, match="corrupt"):
        Store(tmp_path / "s.json").read()


def test_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{half")
    with pytest.raises(PouchRuntimeError, match="corrupt"):
        Store(tmp_path / "s.json").read()


def test_concurrent_create_of_one_name_ends_consistent(tmp_path: Path) -> None:
    procs = [_spawn(tmp_path, ["shared"] * 20) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    doc = json.loads((tmp_path / "state/default/volumes.json").read_text())
    assert list(doc["volumes"]) == ["shared"]
    assert os.listdir(tmp_path / "volumes/default") == ["shared"]


def test_concurrent_creates_lose_nothing(tmp_path: Path) -> None:
    batches = [[f"v{w}-{i}" for i in range(25)] for w in range(4)]
    procs = [_spawn(tmp_path, names) for names in batches]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    doc = json.loads((tmp_path / "state/default/volumes.json").read_text())
    assert sorted(doc["volumes"]) == sorted(n for b in batches for n in b)
