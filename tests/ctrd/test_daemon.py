"""The supervisor: which containerd is used, and the embedded one started, reused and replaced."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import ctrd
from ctrd.daemon import Embedded, daemon_info, start_embedded, stop_embedded
from ctrd.errors import InvalidArgument, PouchRuntimeError, Unavailable


@pytest.fixture
def roots(monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedded]:
    """POUCHSH_ROOT/POUCHSH_RUN in a short temp dir, no system containerd, no CONTAINERD_ADDRESS."""
    base = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))
    monkeypatch.setenv("POUCHSH_ROOT", str(base / "root"))
    monkeypatch.setenv("POUCHSH_RUN", str(base / "run"))
    monkeypatch.setenv("POUCHSH_SYSTEM_SOCKET", str(base / "no-system.sock"))
    monkeypatch.delenv("CONTAINERD_ADDRESS", raising=False)
    embedded = Embedded(base / "root", base / "run")
    yield embedded
    stop_embedded(embedded)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.containerd
def test_embedded_default_is_started_then_reused(roots: Embedded) -> None:
    from managers import Managers

    managers = Managers()  # reads POUCHSH_ROOT / POUCHSH_RUN, like pouchsh does
    client = managers.client
    try:
        assert client.version().version.startswith("1.")
        info = daemon_info(data_root=roots.data_root, run_root=roots.run_root)
        assert (info.source, info.managed, info.running) == ("embedded", True, True)
        assert info.address == str(roots.socket) and info.log == str(roots.log)
        first_pid = info.pid
        assert first_pid and roots.config.read_text().count('"io.containerd.grpc.v1.cri"') == 1
        again = ctrd.connect(None, data_root=roots.data_root, run_root=roots.run_root)
        try:
            assert again.version().version
        finally:
            again.close()
        assert roots.pid() == first_pid  # reused, not started twice
    finally:
        managers.close()
    assert stop_embedded(roots)
    assert not daemon_info(data_root=roots.data_root, run_root=roots.run_root).running


@pytest.mark.containerd
def test_stale_pid_file_is_replaced(roots: Embedded) -> None:
    roots.state.mkdir(parents=True)
    roots.pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not a containerd
    pid = start_embedded(roots)
    assert pid != os.getpid() and roots.pid() == pid


def test_address_and_environment_win(roots: Embedded, monkeypatch: pytest.MonkeyPatch) -> None:
    info = daemon_info("/x/given.sock", data_root=roots.data_root, run_root=roots.run_root)
    assert (info.source, info.address, info.managed, info.running) == ("argument", "/x/given.sock", False, False)
    monkeypatch.setenv("CONTAINERD_ADDRESS", "/x/env.sock")
    assert daemon_info(data_root=roots.data_root, run_root=roots.run_root).source == "environment"
    client = ctrd.connect(None, data_root=roots.data_root, run_root=roots.run_root)
    try:
        assert client.address == "/x/env.sock"
    finally:
        client.close()
    assert not roots.pid_file.exists()  # nothing was started


def test_missing_binary_says_how_to_install(roots: Embedded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(roots.data_root / "empty"))
    with pytest.raises(Unavailable, match="apt-get install containerd runc") as caught:
        ctrd.connect(None, data_root=roots.data_root, run_root=roots.run_root)
    assert "\n" not in caught.value.message


def test_containerd_that_dies_at_start_points_at_its_log(roots: Embedded, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "containerd"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'fake containerd: cannot start' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(PouchRuntimeError, match="exited while starting") as caught:
        start_embedded(roots, binary=str(fake), timeout=10)
    assert str(roots.log) in caught.value.message and "cannot start" in caught.value.message
    assert not roots.pid_file.exists()


def test_socket_path_too_long_is_refused(tmp_path: Path) -> None:
    deep = Embedded(tmp_path / "r", tmp_path / ("x" * 100))
    with pytest.raises(InvalidArgument, match="shorter run root"):
        start_embedded(deep)


@pytest.mark.containerd
def test_same_client_reaches_a_restarted_containerd(roots: Embedded) -> None:
    start_embedded(roots)
    client = ctrd.Client(str(roots.socket))
    try:
        first = client.version()
        old_pid = roots.pid()
        stop_embedded(roots)
        with pytest.raises(Unavailable):
            client.version(timeout=5)
        start_embedded(roots)
        assert roots.pid() != old_pid
        # The channel reconnects by itself (100 ms backoff); no new client is needed.
        assert client.version(wait_for_ready=True, timeout=5) == first
    finally:
        client.close()
