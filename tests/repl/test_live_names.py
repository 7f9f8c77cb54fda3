"""Live names at the prompt against the real containerd: the watch cache and the background lists."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory

from pouchsh.repl import Shell
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


@pytest.fixture
def shell(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.setenv("POUCHSH_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("POUCHSH_RUN", str(tmp_path / "run"))
    shell = Shell(namespace=namespace, address=containerd_address, history=InMemoryHistory())
    shell.warm_up()
    yield shell
    shell.run("ps -a | rm -f; volume ls | volume rm", threading.Event())
    shell.status.stop()
    shell.names.stop()
    shell.containers.stop()


def complete(shell: Shell, text: str) -> list[str]:
    completer = shell.session.completer
    assert completer is not None
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]


def test_warm_up_reaches_containerd(shell: Shell, containerd_address: str) -> None:
    assert shell.status.up is True
    assert containerd_address in shell.status.address
    assert " up " in "".join(text for _, text in shell.toolbar())


def test_container_names_follow_the_watch_cache(shell: Shell) -> None:
    assert shell.run("let c = run -d --name lively-one busybox sleep 60", threading.Event()) == 0
    poll(lambda: complete(shell, "stop liv") == ["lively-one"], "the new container completes", 15)
    poll(lambda: "1 running" in "".join(t for _, t in shell.toolbar()), "the toolbar counts it", 15)
    assert shell.run("rm -f lively-one", threading.Event()) == 0
    poll(lambda: complete(shell, "stop liv") == [], "the removed container is gone", 15)


def test_images_and_volumes_come_from_the_background_lists(shell: Shell, busybox_image: str) -> None:
    poll(lambda: complete(shell, "run -d docker.io/library/bus") == [busybox_image], "the image", 15)
    assert shell.run("let v = volume create vol-for-completion", threading.Event()) == 0
    shell.names.refreshed.clear()
    shell.repl.after_command()  # what the loop does after every command
    assert shell.names.refreshed.wait(15)
    assert complete(shell, "volume rm vol-for") == ["vol-for-completion"]
    assert complete(shell, "namespace use ") == sorted(complete(shell, "namespace use "))
    assert shell.namespace in complete(shell, "namespace use ")
