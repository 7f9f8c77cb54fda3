"""``commit`` and ``import --change`` against the real containerd: the new image runs with the
container's changes and the config the changes give it; bad input makes nothing; a commit killed while
its container is paused is undone by the next command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.containers.conftest import invocation, mgr, pouchsh, roots  # noqa: F401 - fixtures

pytestmark = pytest.mark.containerd


def _json(result: subprocess.CompletedProcess[bytes]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_commit_makes_a_runnable_image_with_the_changes(pouchsh: Any) -> None:  # noqa: F811
    record = _json(pouchsh(
        "run --name b busybox sh -c 'echo hi > /greeting; rm /bin/true'; "
        "commit -c 'CMD [\"cat\", \"/greeting\"]' -c 'ENV A=1' -c 'LABEL tier=test' -m 'a message' "
        "-a 'Me <me@example.com>' b snap:1", extra=["--json"]))
    assert record["repo_tags"] == ["snap:1"] and record["author"] == "Me <me@example.com>"
    assert record["config"]["labels"] == {"tier": "test"} and len(record["layers"]) == 2
    assert pouchsh("run --rm snap:1").stdout == b"hi\n"
    result = pouchsh("run --rm snap:1 sh -c 'echo $A; test -e /bin/true || echo gone'")
    assert result.stdout == b"1\ngone\n", result.stderr
    history = _json(pouchsh("history snap:1", extra=["--json"]))
    assert any("a message" in json.dumps(h) for h in history)
    # Without a name: an unnamed image, found by its id.
    unnamed = _json(pouchsh("commit b", extra=["--json"]))
    assert unnamed["repo_tags"] == [] and unnamed["id"].startswith("sha256:")


def test_commit_of_a_running_container_leaves_it_running(pouchsh: Any) -> None:  # noqa: F811
    script = ("run -d --name live busybox sh -c 'echo up > /state; sleep 60'; "
              "while (diff live | where path == /state | length) == 0 { }; "
              "commit live live:1 | get id; (ps -a | where name == live).0.status")
    out = pouchsh(script, extra=["--json"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == "running"
    assert pouchsh("run --rm live:1 cat /state").stdout == b"up\n"
    assert pouchsh("commit --pause=false live live:2").returncode == 0


def test_bad_commits_make_nothing(pouchsh: Any) -> None:  # noqa: F811
    assert pouchsh("run -d --name live busybox sleep 60").returncode == 0
    before = pouchsh("images -q", extra=["--json"]).stdout
    for script, kind in [("commit -c 'RUN rm -rf /' live x:1", "invalid-argument"),
                         ("commit -c 'EXPOSE http' live x:1", "invalid-argument"),
                         ("commit live 'Bad Name'", "invalid-argument"),
                         ("commit nosuch x:1", "not-found")]:
        result = pouchsh(script)
        assert result.returncode != 0 and f"error[{kind}]" in result.stderr.decode(), (script, result.stderr)
    assert pouchsh("images -q", extra=["--json"]).stdout == before
    status = pouchsh("(ps | where name == live).0.status", extra=["--json"]).stdout
    assert json.loads(status) == "running"  # not left paused


def test_import_with_changes(pouchsh: Any, tmp_path: Path) -> None:  # noqa: F811
    tar = tmp_path / "rootfs.tar"
    assert pouchsh(f"run --name b busybox true; export -o {tar} b").returncode == 0
    record = _json(pouchsh(
        f"import -c 'ENTRYPOINT [\"/bin/echo\"]' -c 'CMD [\"imported\"]' -c 'WORKDIR /tmp' -c 'USER 65534' {tar} mine:1",
        extra=["--json"]))
    assert record["name"].endswith("mine:1")
    assert pouchsh("run --rm mine:1").stdout == b"imported\n"
    assert pouchsh("run --rm --entrypoint '' mine:1 sh -c 'pwd; id -u'").stdout == b"/tmp\n65534\n"
    result = pouchsh(f"import -c 'FROM scratch' {tar} bad:1")
    assert "error[invalid-argument]" in result.stderr.decode()
    assert "bad" not in pouchsh("images | get name", extra=["--json"]).stdout.decode()


def test_commit_killed_while_paused_is_resumed_by_the_next_command(
    pouchsh: Any, containerd_address: str, namespace: str, roots: tuple[Path, Path],  # noqa: F811
) -> None:
    assert pouchsh("run -d --name live busybox sleep 60").returncode == 0
    env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1]),
           "POUCHSH_FAULT": "container.commit.paused"}
    env.pop("CONTAINERD_NAMESPACE", None)
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace,
            "-c", "commit live killed:1"]
    killed = subprocess.run(argv, capture_output=True, timeout=120, env=env, check=False)
    assert killed.returncode == -9, killed.stderr
    # The next command (any) reconciles the intent: the container is thawed, no image was made.
    result = pouchsh("(ps -a | where name == live).0.status", extra=["--json"])
    assert json.loads(result.stdout) == "running", result.stderr
    assert "killed" not in pouchsh("images | get name", extra=["--json"]).stdout.decode()
