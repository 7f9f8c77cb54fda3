"""Registry credentials never leak: a failed and a successful login, push and pull through ``pouchsh``
(a subprocess, as a user runs it), with ``--json`` and ``--dry-run``, and not one output channel (stdout,
stderr, files under the data and run roots) holds the password. Credentials live in docker's config.json
under a private ``DOCKER_CONFIG``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.images.conftest import registry  # noqa: F401 (the module's docker-registry)
from tests.images.registry_front import RegistryFront

pytestmark = pytest.mark.containerd

PASSWORD = "pa55-Zq9-never-shown"
WRONG = "wr0ng-Xk2-never-shown"


def channels(roots: tuple[Path, Path], *runs: object) -> bytes:
    """Everything a user or another process could read: each run's stdout and stderr, and every file under
    the data and run roots."""
    out = b"".join(r.stdout + r.stderr for r in runs)  # type: ignore[attr-defined]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_socket():
                try:
                    out += path.read_bytes()
                except OSError:
                    pass
    return out


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_no_channel_shows_the_password(
    cli: Callable[..., object], roots: tuple[Path, Path], registry: str, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, auth: str,
) -> None:
    docker_config = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    with RegistryFront(registry, auth=auth, credentials=("ci", PASSWORD)) as front:
        ref = f"{front.address}/secret/bb:1"
        failed = cli("login", "-u", "ci", "--password-stdin", front.address, input=WRONG.encode() + b"\n")
        assert failed.returncode == 1 and b"denied" in failed.stderr  # type: ignore[attr-defined]
        dry = cli("--dry-run", "-c", f"login -u ci -p {PASSWORD} {front.address}")
        assert dry.returncode == 0 and b"***" in dry.stdout  # type: ignore[attr-defined]
        ok = cli("--json", "login", "-u", "ci", "--password-stdin", front.address, input=PASSWORD.encode() + b"\n")
        assert ok.returncode == 0, ok.stderr  # type: ignore[attr-defined]
        assert json.loads(ok.stdout)["status"] == "Login Succeeded"  # type: ignore[attr-defined]
        runs = [failed, dry, ok]
        runs.append(cli("tag", "busybox", ref))
        runs.append(cli("--json", "push", ref))
        assert runs[-1].returncode == 0, runs[-1].stderr  # type: ignore[attr-defined]
        runs.append(cli("rmi", ref))
        runs.append(cli("--json", "pull", ref))
        assert runs[-1].returncode == 0, runs[-1].stderr  # type: ignore[attr-defined]
        # a pull refused with stored but wrong credentials, and a failing one with an error
        config = docker_config / "config.json"
        doc = json.loads(config.read_text())
        import base64

        doc["auths"][front.address]["auth"] = base64.b64encode(f"ci:{WRONG}".encode()).decode()
        config.write_text(json.dumps(doc))
        refused = cli("pull", ref)
        assert refused.returncode == 1 and b"denied" in refused.stderr  # type: ignore[attr-defined]
        runs.append(refused)
    seen = channels(roots, *runs)
    for secret in (PASSWORD, WRONG):
        assert secret.encode() not in seen
    assert PASSWORD not in config.read_text() and WRONG not in config.read_text()
