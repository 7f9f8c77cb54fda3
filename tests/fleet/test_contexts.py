"""Contexts: the store (one 0600 file each, atomic create, hostile files refused), the commands, the
command line's --context / POUCHSH_CONTEXT / `context use` order, and `context use` at the prompt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctrd.errors import AlreadyExists, InvalidArgument, NotFound
from managers.contexts import ContextStore

REPO = Path(__file__).resolve().parents[2]


def test_create_is_private_and_atomic(tmp_path: Path) -> None:
    store = ContextStore(tmp_path / "contexts")
    store.create("a", "unix:///run/a.sock", namespace="ci", description="first")
    assert (tmp_path / "contexts").stat().st_mode & 0o777 == 0o700
    path = tmp_path / "contexts" / "a.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["address"] == "/run/a.sock"
    with pytest.raises(AlreadyExists):
        store.create("a", "/run/other.sock")
    assert store.get("a").address == "/run/a.sock"
    assert os.listdir(tmp_path / "contexts") == ["a.json"]  # no temporary file left behind


def test_two_creates_of_one_name_at_once_give_one_context(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = ContextStore(tmp_path)

    def make(i: int) -> str:
        try:
            store.create("same", f"/run/{i}.sock")
            return "made"
        except AlreadyExists:
            return "exists"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(make, range(16)))
    assert outcomes.count("made") == 1
    assert sorted(os.listdir(tmp_path)) == ["same.json"]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "-x", "default", "all", "current", "x" * 64, "a\nb"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument):
        ContextStore(tmp_path).create(name, "/run/a.sock")
    assert not any(tmp_path.iterdir()) or os.listdir(tmp_path) == []


@pytest.mark.parametrize("address", ["tcp://10.0.0.1:2376", "https://h:2376", "relative.sock", "unix:rel",
                                     "/" + "x" * 120, "/a\0b"])
def test_bad_addresses_are_refused(tmp_path: Path, address: str) -> None:
    with pytest.raises(InvalidArgument):
        ContextStore(tmp_path).create("a", address)


def test_hostile_files_are_refused(tmp_path: Path) -> None:
    store = ContextStore(tmp_path)
    store.create("ok", "/run/ok.sock")
    # Writable by others: whoever can write it chooses the socket every command talks to.
    (tmp_path / "loose.json").write_text(json.dumps({"address": "/run/evil.sock", "namespace": "default"}))
    os.chmod(tmp_path / "loose.json", 0o666)
    with pytest.raises(InvalidArgument, match="writable by another user"):
        store.get("loose")
    # A symlink is not followed.
    (tmp_path / "link.json").symlink_to(tmp_path / "ok.json")
    with pytest.raises(InvalidArgument):
        store.get("link")
    for name, body in [("junk", b"{not json"), ("shape", b'["/run/x"]'), ("types", b'{"address": 1, "namespace": "d"}'),
                       ("traverse", b'{"address": "tcp://h:1", "namespace": "d"}'),
                       ("ns", b'{"address": "/run/x", "namespace": "../../x"}'),
                       ("big", b'{"address": "/run/x", "namespace": "d", "d": "' + b"x" * 70000 + b'"}')]:
        path = tmp_path / f"{name}.json"
        path.write_bytes(body)
        os.chmod(path, 0o600)
        with pytest.raises(InvalidArgument):
            store.get(name)
    with pytest.raises(NotFound, match="no context named nope"):
        store.get("nope")


def test_current_and_remove(tmp_path: Path) -> None:
    store = ContextStore(tmp_path)
    store.create("a", "/run/a.sock")
    assert store.current() is None
    store.use("a")
    assert store.current() == "a"
    with pytest.raises(InvalidArgument, match="current"):
        store.remove("a")
    store.remove("a", force=True)
    assert store.current() is None and store.names() == []
    with pytest.raises(NotFound):
        store.use("a")
    assert store.expand("b,b".replace("b", "default")) == ["default"]


def _pouchsh(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("CONTAINERD_ADDRESS", "CONTAINERD_NAMESPACE", "POUCHSH_CONTEXT")}
    full.update({"XDG_CONFIG_HOME": str(home / "cfg"), "POUCHSH_ROOT": str(home / "root"),
                 "POUCHSH_RUN": str(home / "run"), "NO_COLOR": "1", **env})
    return subprocess.run([sys.executable, "-m", "pouchsh", *args], capture_output=True, text=True, env=full,
                          cwd=REPO, timeout=120, check=False)


@pytest.mark.parametrize("hostile", ["writable by others", "a symlink", "not a name"])
def test_the_command_line_and_the_store_refuse_the_same_current_file(tmp_path: Path, hostile: str) -> None:
    """One reader of ``contexts/current`` (managers.config.stored_context): what the store refuses, the
    command line refuses at start-up too, before it talks to any daemon."""
    directory = tmp_path / "cfg" / "pouchsh" / "contexts"
    directory.mkdir(parents=True, mode=0o700)
    current = directory / "current"
    if hostile == "a symlink":
        (tmp_path / "elsewhere").write_text("a\n")
        current.symlink_to(tmp_path / "elsewhere")
    else:
        current.write_text("a\n" if hostile == "writable by others" else "../a\n")
        current.chmod(0o622 if hostile == "writable by others" else 0o600)
    with pytest.raises(InvalidArgument):
        ContextStore(directory).current()
    r = _pouchsh(["-c", "version"], tmp_path)
    assert r.returncode == 2 and str(current) in r.stderr, (r.returncode, r.stderr)


@pytest.mark.containerd
def test_command_line_order(fleet, fleet_ns: str, tmp_path: Path) -> None:
    def made(ctx: str) -> None:
        r = _pouchsh(["--context", ctx, "run", "-d", "--network", "none", "--name", f"on-{ctx}", "busybox", "sleep", "300"],
                     tmp_path)
        assert r.returncode == 0, r.stderr

    for name in ("a", "b"):
        r = _pouchsh(["context", "create", name, "--address", fleet.address(name), "-n", fleet_ns], tmp_path)
        assert r.returncode == 0, r.stderr
    made("a")
    made("b")

    def names(*args: str, **env: str) -> list[str]:
        r = _pouchsh([*args, "--json", "-c", "ps -q | each { ps -a --filter id=$it | get 0.name }"], tmp_path, **env)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else []

    assert names("--context", "b") == ["on-b"]
    assert names(POUCHSH_CONTEXT="a") == ["on-a"]
    assert names("--context", "b", POUCHSH_CONTEXT="a") == ["on-b"]  # the flag beats the environment
    r = _pouchsh(["context", "use", "a"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert names() == ["on-a"]  # the stored choice
    assert names(CONTAINERD_ADDRESS=fleet.address("b"), CONTAINERD_NAMESPACE=fleet_ns) == ["on-b"]  # an address beats it
    assert names("--context", "b", CONTAINERD_ADDRESS=fleet.address("a")) == ["on-b"]  # a named context beats the env
    r = _pouchsh(["--context", "a", "--address", fleet.address("b"), "-c", "ps"], tmp_path)
    assert r.returncode == 2 and "give one" in r.stderr
    r = _pouchsh(["--context", "nope", "-c", "ps"], tmp_path)
    assert r.returncode == 1 and "error[not-found]: no context named nope" in r.stderr
    # Roots are per context: the same name on two daemons does not collide.
    assert (tmp_path / "root" / "contexts" / "a").is_dir() and (tmp_path / "root" / "contexts" / "b").is_dir()


@pytest.mark.containerd
def test_context_use_at_the_prompt_switches_the_session(fleet_shell) -> None:
    fleet_shell.run("run -d --network none --context a --name only-a busybox sleep 300")
    assert fleet_shell.run("context use a; ps -q | length").splitlines()[-1] == "1"
    assert fleet_shell.contexts.current() == "a"
    (rec,) = fleet_shell.value("context inspect")
    assert rec["name"] == "a" and rec["current"] is True
    assert fleet_shell.run("context use b; ps -q | length").splitlines()[-1] == "0"
    with pytest.raises(InvalidArgument, match="in use"):
        fleet_shell.run("context rm b")
    assert fleet_shell.run("context use default; context ls | where current | length").splitlines()[-1] == "0"
    assert fleet_shell.contexts.current() is None
