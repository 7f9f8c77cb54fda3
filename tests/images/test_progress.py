"""How pulls and pushes show progress: JSON lines on stderr off a terminal (each status change, bytes at
most every half second a blob), rich bars collapsing to a summary line on a terminal, nothing with -q; and
through ``pouchsh`` itself, the record alone on stdout."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from managers.progress import Progress
from pouchsh.transfer_view import transfer_view
from tests.images.registry_front import RegistryFront
from tests.reliability.conftest import cli, roots  # noqa: F401 (fixtures)


def ctx(terminal: bool, json_output: bool = False) -> SimpleNamespace:
    return SimpleNamespace(is_terminal=terminal, json_output=json_output, stderr=io.BytesIO())


def feed(progress) -> None:
    progress(Progress("sha256:" + "a" * 64, "layer", "downloading", 0, 1000))
    for n in range(1, 11):
        progress(Progress("sha256:" + "a" * 64, "layer", "downloading", n * 100, 1000))
    progress(Progress("sha256:" + "a" * 64, "layer", "done", 1000, 1000))
    progress(Progress("sha256:" + "b" * 64, "config", "exists", 10, 10))


def test_off_a_terminal_progress_is_json_lines_on_stderr() -> None:
    c = ctx(terminal=False)
    with transfer_view(c, False, "pulled") as progress:
        feed(progress)
    lines = [json.loads(line) for line in c.stderr.getvalue().splitlines()]
    assert [line["status"] for line in lines] == ["downloading", "done", "exists"]  # bytes are throttled
    assert lines[1] == {"event": "progress", "id": "sha256:" + "a" * 64, "kind": "layer", "status": "done",
                        "current": 1000, "total": 1000}


def test_on_a_terminal_bars_collapse_into_a_summary() -> None:
    c = ctx(terminal=True)
    with transfer_view(c, False, "pulled") as progress:
        feed(progress)
    shown = c.stderr.getvalue().decode()
    assert "pulled: 1 blobs, 1.0 kB in" in shown and "1 already there" in shown


def test_quiet_shows_nothing() -> None:
    c = ctx(terminal=True)
    with transfer_view(c, True, "pulled") as progress:
        assert progress is None
    assert c.stderr.getvalue() == b""


@pytest.mark.containerd
def test_pouchsh_prints_the_record_on_stdout_and_events_on_stderr(cli, registry: str) -> None:  # noqa: F811
    with RegistryFront(registry) as front:
        ref = f"{front.address}/progress/bb:1"
        assert cli("tag", "busybox", ref).returncode == 0
        pushed = cli("--json", "push", ref)
        assert pushed.returncode == 0, pushed.stderr
        assert json.loads(pushed.stdout)["name"] == ref
        assert cli("rmi", ref).returncode == 0
        pulled = cli("--json", "pull", ref)
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(pulled.stdout)["name"] == ref
        events = [json.loads(line) for line in pulled.stderr.splitlines()]
        assert events and all(e["event"] == "progress" for e in events)
        assert {"layer", "config"} <= {e["kind"] for e in events if e["status"] in ("done", "exists")}
        assert cli("rmi", ref).returncode == 0
        quiet = cli("pull", "-q", ref)
        assert (quiet.stdout.decode().strip(), quiet.stderr) == (ref, b"")
