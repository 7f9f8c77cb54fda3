"""A script's foreground ``run --rm`` reports the exit and goes on while its container is removed in a
thread (Lifecycle.destroy_later, managers.deferred); what reads containers waits for that removal, and so
does a name given again. A kill -9 of pouchsh while the container runs or before its removal is done
leaves it to the next invocation; a removal that fails, to a waiter."""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from managers import deferred
from managers.lifecycle import Lifecycle
from tests.containers.helpers import EMPTY, leftovers

pytestmark = pytest.mark.containerd


class Held:
    """The removals of the script's ``--rm`` runs, each held at its start until ``release``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.started: list[str] = []
        held = Lifecycle._destroy_held

        def destroy_held(lifecycle: Lifecycle, c: Any, *args: Any) -> None:
            if threading.current_thread().name == "pouchsh-rm":
                self.started.append(c.id)
                assert self.gate.wait(60)
            held(lifecycle, c, *args)

        monkeypatch.setattr(Lifecycle, "_destroy_held", destroy_held)

    def release(self) -> None:
        self.gate.set()


def watch_settle(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set once something waits for work that is still pending."""
    settling = threading.Event()
    settle = deferred.settle

    def watched() -> None:
        if deferred.pending():
            settling.set()
        settle()

    monkeypatch.setattr(deferred, "settle", watched)
    return settling


@pytest.fixture
def script(mgr: Any, roots: tuple[Path, Path]) -> Iterator[Callable[[str], tuple[threading.Thread, dict[str, Any]]]]:
    """``script(text)``: run ``text`` in a session on ``mgr`` in a thread; the dict gets its output (or
    ``error``) once it ends."""
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    threads: list[threading.Thread] = []

    def start(text: str) -> tuple[threading.Thread, dict[str, Any]]:
        out = io.BytesIO()
        runtime = Runtime(managers_factory=lambda: mgr, stdout=out, stderr=out, stdin=io.BytesIO(),
                          env={**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1])})
        session = Session(runtime)
        result: dict[str, Any] = {}

        def body() -> None:
            try:
                session.execute(session.compile(text, "test.pouch"))
            except Exception as err:  # noqa: BLE001 - handed to the test, which fails on it
                result["error"] = err
            result["out"] = out.getvalue().decode()

        thread = threading.Thread(target=body)
        thread.start()
        threads.append(thread)
        return thread, result

    yield start
    for thread in threads:
        thread.join(60)


def until(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_next_run_begins_while_the_last_container_is_removed(mgr: Any, roots: tuple[Path, Path], script: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    held = Held(monkeypatch)
    thread, result = script("run --rm --network none busybox true; run --rm --network none busybox echo second")
    # The second run made, ran and exited its container while the first removal was held.
    until(lambda: len(held.started) == 2, "the second run's removal to start")
    assert len(deferred.pending()) == 2
    assert thread.is_alive()  # the script's end waits for them
    held.release()
    thread.join(60)
    assert "error" not in result, result
    assert result["out"] == "second\n"
    assert deferred.pending() == []
    assert leftovers(mgr, roots) == EMPTY
    assert not list((roots[0] / "intents").iterdir())


def test_a_statement_that_reads_containers_waits_for_the_removal(mgr: Any, script: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    held = Held(monkeypatch)
    listed = threading.Event()
    listing = type(mgr.containers).list

    def list_(*args: Any, **kwargs: Any) -> Any:
        listed.set()
        return listing(*args, **kwargs)

    monkeypatch.setattr(type(mgr.containers), "list", list_)
    settling = watch_settle(monkeypatch)
    thread, result = script("run --rm --network none busybox true; ps -a | length")
    until(lambda: held.started != [], "the removal to start")
    assert settling.wait(30)
    assert not listed.is_set()  # ps waits for the removal instead of listing the exited container
    held.release()
    thread.join(60)
    assert "error" not in result, result
    assert result["out"].strip() == "0"


def test_a_name_given_again_waits_for_the_removal(mgr: Any, roots: tuple[Path, Path], script: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    held = Held(monkeypatch)
    settling = watch_settle(monkeypatch)
    thread, result = script("run --rm --network none --name again busybox true\n"
                            "run --rm --network none --name again busybox echo again")
    until(lambda: held.started != [], "the first removal to start")
    assert settling.wait(30)  # the second run found the name taken, and waits instead of failing
    held.release()
    thread.join(60)
    assert "error" not in result, result
    assert result["out"] == "again\n"
    assert leftovers(mgr, roots) == EMPTY


def test_a_kill_before_the_removal_ran_leaves_it_to_the_next_invocation(mgr: Any, roots: tuple[Path, Path],
                                                                        invocation: Any) -> None:
    argv, env = invocation("run --rm --network none -v /data busybox true")
    killed = subprocess.run(argv, env={**env, "POUCHSH_FAULT": "container.rm.deferred"}, capture_output=True,
                            timeout=60, check=False)
    assert killed.returncode == -9, killed.stderr
    assert len(mgr.ctrd.containers.list()) == 1  # exited, its --rm removal not begun
    argv, env = invocation("ps -a | length")
    after = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert after.returncode == 0, after.stderr
    assert after.stdout.decode().strip() == "0"  # the intent's reconcile removed it
    assert leftovers(mgr, roots) == EMPTY
    assert mgr.volumes.list() == []  # its anonymous volume went with it
    assert not list((roots[0] / "intents").iterdir())


def test_a_kill_while_the_container_runs_leaves_it_to_be_removed_when_it_ends(mgr: Any, roots: tuple[Path, Path],
                                                                             invocation: Any) -> None:
    """The removal's intent is written before the task starts: the next invocation finds the container
    still running and leaves a waiter to remove it once it ends, as ``run -d --rm`` does."""
    argv, env = invocation("run --rm --network none busybox sleep 2")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until(lambda: any(t.status == "running" for t in mgr.ctrd.tasks.list()), "the task to run")
    finally:
        proc.kill()
        proc.wait(30)
    argv, env = invocation("ps -a -q | length")
    after = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert after.returncode == 0, after.stderr
    assert after.stdout.decode().strip() == "1"  # still running when the intent was reconciled
    assert not [p for p in (roots[0] / "intents").iterdir() if p.name.startswith(f"{proc.pid}-")]  # reconciled
    until(lambda: leftovers(mgr, roots) == EMPTY and not list((roots[0] / "intents").iterdir()),
          "the waiter to remove the container once it ended", 60)


def test_a_removal_that_fails_is_retried_by_a_waiter(mgr: Any, roots: tuple[Path, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Synchronous (its error reported) or behind the exit (nobody to report it to), a --rm container
    whose removal failed is left to a waiter of its own (managers.autoremove), which removes it."""
    from ctrd.errors import Unavailable
    from tests.containers.helpers import opts, stdio

    def broken(*args: Any) -> None:
        raise Unavailable("containerd went away")

    monkeypatch.setattr(Lifecycle, "_destroy_steps", broken)  # in this process: the waiters run unpatched
    with pytest.raises(Unavailable):
        mgr.containers.run(opts("true", rm=True), detach=False, stdio=stdio())
    assert mgr.containers.run(opts("true", rm=True), detach=False, stdio=stdio(), remove_later=True) == 0
    deferred.settle()
    until(lambda: leftovers(mgr, roots) == EMPTY and not list((roots[0] / "intents").iterdir()),
          "the waiters to remove both containers", 60)
