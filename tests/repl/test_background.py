"""The REPL's background parts without containerd: the status probe and the name lists."""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from pouchsh.repl.live import LiveNames
from pouchsh.repl.toolbar import ContainerdStatus, toolbar_text


def text(parts: StyleAndTextTuples) -> str:
    return "".join(p[1] for p in parts)


def test_status_goes_up_and_down_with_the_probe() -> None:
    answers = ["unix:///run/x.sock", OSError("connection refused\nsecond line")]
    changes: list[bool | None] = []

    def probe() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    status = ContainerdStatus(probe, address_hint="unix:///run/x.sock")
    status.on_change = lambda: changes.append(status.up)
    assert status.up is None and "connecting" in text(toolbar_text(status, "default", None))
    status.check_now()
    assert status.up is True and status.wait_checked(0)
    assert " up " in text(toolbar_text(status, "default", None, running=3))
    assert "3 running" in text(toolbar_text(status, "default", None, running=3))
    status.check_now()
    shown = text(toolbar_text(status, "web", 2))
    assert status.up is False and " down " in shown and "connection refused" in shown
    assert "second line" not in shown and "namespace web" in shown and "exit 2" in shown
    assert changes == [True, False]


def test_lists_keep_their_last_answer_when_a_loader_fails() -> None:
    volumes: list[Iterable[str] | Exception] = [["b", "a", "a", ""], RuntimeError("containerd down")]

    def load_volumes() -> Iterable[str]:
        answer = volumes.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    names = LiveNames({"volume": load_volumes})
    assert names.names("volume") == ()
    names.load_all()
    assert names.names("volume") == ("a", "b")  # sorted, unique, no empty names
    names.load_all()
    assert names.names("volume") == ("a", "b")
    assert names.refreshed.is_set()


def test_a_live_source_wins_over_lists_and_a_failing_one_names_nothing() -> None:
    def broken() -> list[str]:
        raise RuntimeError("cache not started")

    names = LiveNames({"container": lambda: ["stale"]}, live={"container": lambda: ["fresh"]})
    names.load_all()
    assert names.names("container") == ["fresh"]
    names.set_live("container", broken)
    assert names.names("container") == ()


def test_the_background_thread_reloads_on_request() -> None:
    calls: list[int] = []
    names = LiveNames({"network": lambda: (calls.append(1), ["bridge"])[1]}, interval=3600)
    names.start()
    assert names.refreshed.wait(5)
    names.refreshed.clear()
    names.refresh()
    assert names.refreshed.wait(5)
    names.stop()
    assert len(calls) >= 2 and names.names("network") == ("bridge",)
