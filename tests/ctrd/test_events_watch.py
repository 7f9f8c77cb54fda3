"""The watcher's cache against the real containerd, including a containerd killed and restarted under it."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import ctrd
from ctrd.daemon import Embedded, start_embedded, stop_embedded
from ctrd.errors import InvalidArgument, Timeout
from ctrd.imports import import_oci_layout
from ctrd.stdio import NullIO
from ctrd.watch import Watcher
from tests.ctrd.runtime_kit import kill_and_remove, make_container, remove_container
from tests.support.cleanup import purge_namespace

WAIT = 60


@pytest.mark.containerd
def test_cache_follows_a_container_through_its_life(ns_client: ctrd.Client, busybox_image: str) -> None:
    make_container(ns_client, busybox_image, "before", ["true"])
    with Watcher(ns_client) as watcher:
        assert watcher.running
        snapshot = watcher.wait_synced(WAIT)
        assert snapshot.status("before") == "created"  # from the list
        mounts = make_container(ns_client, busybox_image, "w1", ["sleep", "300"])
        labelled = watcher.wait_for(lambda s: "w1" in s.containers, WAIT)
        assert labelled.containers["w1"].labels == {"test": "runtime"}  # read back: the event has no labels
        ns_client.tasks.create("w1", rootfs=mounts, io=NullIO())
        pid = ns_client.tasks.start("w1")
        running = watcher.wait_for(lambda s: s.status("w1") == "running", WAIT)
        assert running.tasks["w1"].pid == pid
        ns_client.tasks.pause("w1")
        watcher.wait_for(lambda s: s.status("w1") == "paused", WAIT)
        ns_client.tasks.resume("w1")
        watcher.wait_for(lambda s: s.status("w1") == "running", WAIT)
        ns_client.containers.update("w1", labels={"pouchsh/name": "web"})
        watcher.wait_for(lambda s: s.containers["w1"].labels.get("pouchsh/name") == "web", WAIT)
        kill_and_remove(ns_client, "w1")
        gone = watcher.wait_for(lambda s: "w1" not in s.containers, WAIT)
        assert "w1" not in gone.tasks
        with pytest.raises(Timeout):
            watcher.wait_for(lambda s: "never" in s.containers, 0.2)
        remove_container(ns_client, "before")
    assert not watcher.running


@pytest.mark.containerd
def test_watcher_needs_a_namespace(ctrd_client: ctrd.Client) -> None:
    with pytest.raises(InvalidArgument):
        Watcher(ctrd_client)


@pytest.fixture
def own_containerd() -> Iterator[Embedded]:
    """A containerd of this test's own, since the test kills it (the session's is shared)."""
    base = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    embedded = Embedded(data_root=base / "root", run_root=base / "run")
    start_embedded(embedded, timeout=WAIT)
    try:
        yield embedded
    finally:
        start_embedded(embedded, timeout=WAIT)  # in case the test left it dead
        client = ctrd.Client(str(embedded.socket))
        try:
            problems = purge_namespace(client, "watch")
        finally:
            client.close()
            stop_embedded(embedded)
            shutil.rmtree(base, ignore_errors=True)
        assert not problems


@pytest.mark.containerd
def test_cache_converges_after_containerd_is_killed_and_restarted(
    own_containerd: Embedded, busybox_layout: Path, tmp_path: Path
) -> None:
    client = ctrd.Client(str(own_containerd.socket)).with_namespace("watch")
    import_oci_layout(client, busybox_layout)
    (image,) = client.images.list()
    control = tmp_path / "control"
    control.mkdir()
    os.mkfifo(control / "go")
    # The container runs until the test writes to the FIFO: its exit happens after the restart, by design.
    mounts = make_container(
        client,
        image.name,
        "survivor",
        ["sh", "-c", "read x < /control/go; exit 7"],
        binds={str(control): "/control"},
    )
    with Watcher(client) as watcher:
        watcher.wait_synced(WAIT)
        client.tasks.create("survivor", rootfs=mounts, io=NullIO())
        client.tasks.start("survivor")
        watcher.wait_for(lambda s: s.status("survivor") == "running", WAIT)
        syncs_before = watcher.syncs

        pid = own_containerd.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # our child (start_embedded spawned it): gone for sure before the restart
        start_embedded(own_containerd, timeout=WAIT)
        assert own_containerd.pid() != pid

        # Re-listed after the restart, with the task still running in its shim.
        after = watcher.wait_for(
            lambda s: watcher.syncs > syncs_before and s.status("survivor") == "running", WAIT
        )
        assert after.synced
        fd = os.open(control / "go", os.O_WRONLY)
        os.write(fd, b"go\n")
        os.close(fd)
        stopped = watcher.wait_for(lambda s: s.status("survivor") == "stopped", WAIT)
        assert stopped.tasks["survivor"].exit_status == 7
    client.tasks.delete("survivor")
    remove_container(client, "survivor")


def test_watcher_without_containerd_keeps_retrying_and_stops(tmp_path: Path) -> None:
    client = ctrd.Client(str(tmp_path / "nobody.sock")).with_namespace("ns")
    try:
        watcher = Watcher(client, min_backoff=0.01, max_backoff=0.05).start()
        with pytest.raises(Timeout, match="not synced"):
            watcher.wait_synced(0.3)
        assert watcher.last_error is not None and watcher.last_error.kind == "unavailable"
        assert not watcher.snapshot().synced
        watcher.stop()
        assert not watcher.running
    finally:
        client.close()


def test_no_watcher_while_another_thread_is_still_importing_the_module(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """sys.modules holds ctrd.watch from the moment its import begins; a request answered meanwhile in
    another thread (pouchd: the health schedule imports it in its own) must find no watcher, not fail."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "ctrd.watch", types.ModuleType("ctrd.watch"))  # its body not run yet
    client = ctrd.Client(str(tmp_path / "nobody.sock")).with_namespace("ns")
    try:
        assert client.watcher() is None
    finally:
        client.close()
