"""The settings file (managers.config): where it is, what it may hold, and that flags and the environment win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctrd.errors import InvalidArgument
from managers.config import Settings, config_path, load
from tests.lang.conftest import run_cli


def _write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {"POUCHSH_CONFIG": str(path)}


def test_the_file_is_found_under_xdg_config_home_and_missing_means_defaults(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert config_path(env) == tmp_path / "pouchsh" / "config.toml"
    assert load(env) == Settings()


def test_docker_spellings_are_read(tmp_path: Path) -> None:
    env = _write(tmp_path, 'registry-mirrors = ["https://m:5000"]\ninsecure-registries = ["r:5000"]\n'
                           'max-concurrent-downloads = 6\nenable-lxcfs = true\n')
    s = load(env)
    assert (s.registry_mirrors, s.insecure_registries, s.max_concurrent_downloads, s.enable_lxcfs) == (
        ("https://m:5000",), ("r:5000",), 6, True)


@pytest.mark.parametrize(("text", "says"), [
    ('namespce = "x"\n', "unknown key 'namespce'"),
    ("max-concurrent-downloads = true\n", "must be an integer"),
    ("max-concurrent-downloads = 0\n", "at least 1"),
    ('registry-mirrors = "m"\n', "must be a list of strings"),
    ("registry-mirrors = [1]\n", "list of non-empty strings"),
    ("namespace = \n", "Invalid value"),
])
def test_a_bad_file_is_an_error_naming_the_file_and_key(tmp_path: Path, text: str, says: str) -> None:
    env = _write(tmp_path, text)
    with pytest.raises(InvalidArgument) as e:
        load(env)
    assert says in e.value.message and env["POUCHSH_CONFIG"] in e.value.message
    result = run_cli(["-c", "echo ran"], env=env)
    assert (result.code, result.out) == (2, "") and says in result.err


@pytest.mark.containerd
def test_flag_beats_environment_beats_file(tmp_path: Path, containerd_address: str) -> None:
    env = {**_write(tmp_path, f'address = "{containerd_address}"\nnamespace = "from-file"\n')}
    made = ["from-file", "from-env", "from-flag"]
    assert run_cli(["-c", "; ".join(f"namespace create {n}" for n in made)], env=env).code == 0
    show = ["--json", "-c", "namespace ls | where current | get name"]
    assert json.loads(run_cli(show, env=env).out) == ["from-file"]
    assert json.loads(run_cli(show, env={**env, "CONTAINERD_NAMESPACE": "from-env"}).out) == ["from-env"]
    assert json.loads(run_cli(["-n", "from-flag", *show], env={**env, "CONTAINERD_NAMESPACE": "e"}).out) == [
        "from-flag"]
