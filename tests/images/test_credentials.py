"""Credentials in docker's config.json (no containerd needed): ``auths``, ``credsStore`` and ``credHelpers``
through a ``docker-credential-*`` helper on PATH, docker.io's key, and the move of pouchsh's former store."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from ctrd.errors import NotFound
from managers.credentials import DOCKER_IO_KEY, DockerConfig

HELPER = f"""#!{sys.executable}
# a docker credential helper keeping its secrets in one JSON file, as docker-credential-pass would
import json, os, sys
path = os.environ["TEST_HELPER_FILE"]
store = json.load(open(path)) if os.path.exists(path) else {{}}
verb, data = sys.argv[1], sys.stdin.read()
with open(path + ".log", "a") as log:
    log.write(verb + "\\n")
if verb == "store":
    doc = json.loads(data)
    store[doc["ServerURL"]] = [doc["Username"], doc["Secret"]]
elif verb == "get":
    if data.strip() not in store:
        print("credentials not found in native keychain")
        sys.exit(1)
    user, secret = store[data.strip()]
    print(json.dumps({{"ServerURL": data.strip(), "Username": user, "Secret": secret}}))
elif verb == "erase":
    if store.pop(data.strip(), None) is None:
        print("credentials not found in native keychain")
        sys.exit(1)
json.dump(store, open(path, "w"))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-test`` on PATH; returns the file where it keeps secrets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-test"
    script.write_text(HELPER)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    secrets = tmp_path / "helper.json"
    monkeypatch.setenv("TEST_HELPER_FILE", str(secrets))
    return secrets


def write_config(docker_config: Path, doc: dict) -> Path:
    docker_config.mkdir(parents=True, exist_ok=True)
    path = docker_config / "config.json"
    path.write_text(json.dumps(doc))
    return path


def test_auths_round_trip_keeps_the_rest_of_the_file(docker_config: Path) -> None:
    path = write_config(docker_config, {"psFormat": "table {{.ID}}", "auths": {"other:1": {"auth": "eDp5"}}})
    config = DockerConfig()
    assert config.put("localhost:5000", "alice", "pw:with:colons") == str(path)
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "table {{.ID}}" and doc["auths"]["other:1"] == {"auth": "eDp5"}
    assert base64.b64decode(doc["auths"]["localhost:5000"]["auth"]) == b"alice:pw:with:colons"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.get("localhost:5000") == ("alice", "pw:with:colons")
    assert config.get("other:1") == ("x", "y")
    assert config.remove("localhost:5000") is True
    assert config.get("localhost:5000") is None
    assert config.remove("localhost:5000") is False


def test_docker_io_is_keyed_as_docker_writes_it(docker_config: Path) -> None:
    config = DockerConfig()
    config.put("docker.io", "bob", "pw")
    assert list(json.loads((docker_config / "config.json").read_text())["auths"]) == [DOCKER_IO_KEY]
    assert config.get("docker.io") == ("bob", "pw")


def test_a_config_written_by_docker_is_read(docker_config: Path) -> None:
    write_config(docker_config, {"auths": {"https://registry.example:5000/v2/": {"username": "u", "password": "p"}}})
    assert DockerConfig().get("registry.example:5000") == ("u", "p")


def test_creds_store_keeps_the_secret_out_of_config_json(docker_config: Path, helper: Path) -> None:
    path = write_config(docker_config, {"credsStore": "test"})
    config = DockerConfig()
    assert config.put("localhost:5000", "carol", "hunter2-secret") == "docker-credential-test"
    assert "hunter2-secret" not in path.read_text()
    assert json.loads(path.read_text())["auths"] == {"localhost:5000": {}}
    assert config.get("localhost:5000") == ("carol", "hunter2-secret")
    assert config.get("elsewhere:1") is None  # the helper's "not found" is no error
    assert config.remove("localhost:5000") is True
    assert json.loads(helper.read_text()) == {}
    assert Path(f"{helper}.log").read_text().split() == ["store", "get", "get", "erase"]


def test_cred_helpers_win_over_creds_store_for_their_host(docker_config: Path, helper: Path) -> None:
    write_config(docker_config, {"credsStore": "absent", "credHelpers": {"localhost:5000": "test"}})
    config = DockerConfig()
    config.put("localhost:5000", "dave", "pw")
    assert config.get("localhost:5000") == ("dave", "pw")
    with pytest.raises(NotFound, match="docker-credential-absent"):
        config.get("other:1")


def test_pouchsh_former_store_is_moved_once(docker_config: Path, tmp_path: Path) -> None:
    old = tmp_path / "auth.json"
    old.write_text(json.dumps({"auths": {"localhost:5000": {"auth": base64.b64encode(b"erin:old").decode()},
                                         "kept:1": {"auth": base64.b64encode(b"x:old").decode()}}}))
    write_config(docker_config, {"auths": {"kept:1": {"auth": base64.b64encode(b"x:new").decode()}}})
    config = DockerConfig()
    config.migrate(old)
    assert not old.exists()
    assert config.get("localhost:5000") == ("erin", "old")
    assert config.get("kept:1") == ("x", "new")  # what docker's file already had wins
    config.migrate(old)  # a second run (or one after a kill) finds nothing to do


def test_a_broken_config_json_is_an_error_that_shows_none_of_it(docker_config: Path) -> None:
    write_config(docker_config, {})
    (docker_config / "config.json").write_text('{"auths": {"h": {"auth": "c2VjcmV0LXZhbHVl"}}, oops')
    with pytest.raises(Exception) as info:
        DockerConfig().get("h")
    assert "c2VjcmV0LXZhbHVl" not in str(info.value)
