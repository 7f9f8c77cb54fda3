"""Hostile input gets a clear refusal and touches nothing: paths that try to leave their roots, reserved
and over-long labels, invalid names and ids; state on disk is private; credentials never shown.
(The no-host-shell rule is test_no_shell.py.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.containerd

ESCAPES = ["../evil", "..", ".", "a/b", "/etc", "x/../../evil", ".hidden", "-rf", "a\x00b", "ä", "a b"]


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("name", ESCAPES)
def test_volume_names_cannot_leave_the_volume_root(shell: Any, roots: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    before = _tree(tmp_path)
    literal = name.replace("\\", "\\\\").replace("'", "")
    assert shell.kind(f"volume create '{literal}'") == "invalid-argument"
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "flag",
    [
        "-v ../evil:/data", "-v evil/../../x:/data", "-v ./here:/data", "-v vol:../../etc",
        "-v vol:/data/../../etc", "--mount type=volume,src=../../x,dst=/d", "--mount type=bind,src=rel,dst=/d",
        "--mount type=volume,src=v1,dst=relative", "--tmpfs ../x",
    ],
)
def test_mount_specs_that_escape_are_refused_before_anything_is_made(shell: Any, tmp_path: Path, flag: str) -> None:
    # built first: the container manager's one-time bookkeeping (managers.restartlogs' marker) is not the create's
    assert shell.facade.containers is not None
    before = _tree(tmp_path)
    assert shell.kind(f"create --network none {flag} busybox true") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []
    made = _tree(tmp_path) - before
    files = {p for p in made if (tmp_path / p).is_file() and not p.endswith((".lock", ".boot"))}
    assert files == set(), f"left behind: {files}"
    assert not {p for p in made if Path(p).name in ("evil", "x", "here", "etc", "rel")}


@pytest.mark.parametrize("prefix", ["containerd.io/gc.root", "containerd.io/restart.status", "io.containerd.x", "pouchsh/name"])
def test_reserved_label_prefixes_are_refused_on_containers(shell: Any, prefix: str) -> None:
    assert shell.kind(f"create --network none --label {prefix}=x busybox true") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []


@pytest.mark.parametrize("label", ["containerd.io/gc.root=x", "io.containerd.x=1", "pouchsh/name=x", "k" * 100 + "=" + "v" * 4000])
@pytest.mark.parametrize("command", ["volume create --label {label} v1", "network create --label {label} n1"])
def test_reserved_and_over_long_labels_are_refused_on_volumes_and_networks(shell: Any, command: str, label: str) -> None:
    assert shell.kind(command.format(label=label)) == "invalid-argument"
    assert shell.run("volume ls | length").strip() == "0"
    assert shell.run("network ls | where name == n1 | length").strip() == "0"


def test_over_long_labels_are_refused(shell: Any) -> None:
    key, value = "k" * 100, "v" * 4000
    assert shell.kind(f"create --network none --label {key}={value} busybox true") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []


@pytest.mark.parametrize("name", ["a" * 129, "a" * 5000, "-a", ".a", "a/b", "../x", "a b", "é", "a:b"])
def test_invalid_container_names_are_refused(shell: Any, name: str) -> None:
    assert shell.kind(f"create --network none --name '{name}' busybox true") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []


def test_docker_names_that_containerd_would_refuse_are_fine_as_names(shell: Any) -> None:
    # Names live in a label and the name store; the containerd id is generated, so docker's rule applies.
    shell.run("create --network none --name a..b busybox true; create --network none --name b- busybox true")
    names = {c.labels.get("pouchsh/name") for c in shell.facade.ctrd.containers.list()}
    assert names == {"a..b", "b-"}


@pytest.mark.parametrize("ref", ["../../etc/passwd", "a b", "x" * 64, "0" * 200, "", "/", "%s", "a\\nb"])
@pytest.mark.parametrize("verb", ["rm -f", "inspect", "logs", "start", "stop", "rename {ref} other"])
def test_invalid_ids_are_not_found_or_invalid(shell: Any, verb: str, ref: str) -> None:
    text = verb.format(ref=f"'{ref}'") if "{ref}" in verb else f"{verb} '{ref}'"
    assert shell.kind(text) in ("not-found", "invalid-argument")


def test_state_and_secrets_are_private(shell: Any, roots: tuple[Path, Path]) -> None:
    from managers.credentials import DockerConfig

    shell.run("volume create data; run --network none --name web -v data:/data busybox echo hi")
    creds = roots[0] / "docker" / "config.json"  # docker's credential file, here under the test's root
    DockerConfig({"DOCKER_CONFIG": str(creds.parent)}).put("localhost:5000", "ci", "S3cret-pw")
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    everything = [roots[0], *roots[0].rglob("*"), roots[1], *roots[1].rglob("*")]
    logs = [p for p in everything if "-json.log" in p.name]
    stores = [p for p in everything if p.suffix == ".json" and p.is_file()]
    assert logs and len(stores) >= 2  # config.json and the volume store at least
    for path in everything:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode):
            assert not stat.S_IMODE(st.st_mode) & stat.S_IWOTH, f"{path} is world-writable ({oct(st.st_mode)})"
    for path in stores + [p for p in (roots[0] / "names").rglob("*") if p.is_file()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path}: a store is for root only ({oct(path.stat().st_mode)})"
    for directory in (roots[0] / "names").iterdir():
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, f"{directory}: {oct(directory.stat().st_mode)}"
    for log in logs:  # what containers print can hold secrets
        assert not stat.S_IMODE(log.stat().st_mode) & stat.S_IROTH, f"{log} is world-readable"


def test_containerd_socket_is_not_open_to_everyone(containerd_address: str) -> None:
    path = containerd_address.removeprefix("unix://")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert not mode & 0o007, f"{path} is {oct(mode)}"


SECRET = "S3cret-pw-9f1c"


def _assert_hidden(procs: list[Any]) -> None:
    import base64

    encoded = base64.b64encode(f"ci:{SECRET}".encode())
    for proc in procs:
        shown = proc.stdout + proc.stderr
        assert SECRET.encode() not in shown, shown.decode()[-800:]
        assert encoded not in shown, shown.decode()[-800:]


def test_stored_credentials_are_never_printed(cli: Any, roots: tuple[Path, Path], monkeypatch: Any) -> None:
    from managers.credentials import DockerConfig

    monkeypatch.setenv("DOCKER_CONFIG", str(roots[0] / "docker"))  # the subprocesses' too
    DockerConfig().put("127.0.0.1:9", "ci", SECRET)
    _assert_hidden([
        cli("-c", "login -u ci --password-stdin 127.0.0.1:9", input=f"{SECRET}\n".encode()),  # nothing listens
        cli("--json", "-c", "info"),
        cli("-c", "pull 127.0.0.1:9/app:1"),
        cli("--debug", "-c", "pull 127.0.0.1:9/app:1"),
        cli("-c", "logout 127.0.0.1:9"),
    ])


def test_a_password_given_with_p_is_not_echoed(cli: Any) -> None:
    _assert_hidden([cli("-c", f"login -u ci -p {SECRET} 127.0.0.1:9")])


def test_dry_run_does_not_print_a_password(cli: Any) -> None:
    _assert_hidden([cli("--dry-run", "-c", "login -u ci --password-stdin 127.0.0.1:9", input=f"{SECRET}\n".encode())])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


#: what must stay readable by others: a volume's _data is the mount point a container user sees, and a
#: container's hosts, resolv.conf and hostname are bind-mounted into it (each inside a 0700 directory)
_SHARED = {"_data", "hosts", "resolv.conf", "hostname"}


def test_what_pouchsh_makes_under_a_fresh_root_is_private(containerd_address: str, namespace: str, busybox_image: str,
                                                          tmp_path: Path, monkeypatch: Any) -> None:
    from managers import Managers
    from tests.reliability.conftest import Shell

    root, run = tmp_path / "fresh" / "root", tmp_path / "fresh" / "run"
    monkeypatch.setenv("DOCKER_CONFIG", str(root / "docker"))  # docker's credential file, under the root here
    facade = Managers(address=containerd_address, namespace=namespace, root=root, run_root=run)
    shell = Shell(facade, (root, run))
    try:
        shell.run("volume create data; network create --subnet 10.231.7.0/24 permnet")
        shell.run("run --network none --name web -v data:/data busybox echo hi")
        facade.images._credentials.put("localhost:5000", "ci", "S3cret-pw")
        cid = facade.ctrd.containers.list()[0].id
    finally:
        shell.run("network rm permnet")  # and the container, of network none, stays for the checks below
        facade.close()
    private_dirs = [
        root, run, root / "state" / namespace, root / "networks", root / "names", root / "names" / namespace,
        root / "containers", root / "containers" / namespace, root / "containers" / namespace / cid,
    ]
    for path in private_dirs:
        assert _mode(path) == 0o700, f"{path}: {oct(_mode(path))}"
    secrets = [root / "state" / namespace / "volumes.json", root / "networks" / "state.json", root / "docker" / "config.json",
               root / "containers" / namespace / cid / f"{cid}-json.log", *(root / "names" / namespace).iterdir()]
    for path in secrets:
        assert _mode(path) == 0o600, f"{path}: {oct(_mode(path))}"
    for path in [root, *root.rglob("*"), run, *run.rglob("*")]:
        if path.is_symlink() or path.name in _SHARED:
            continue
        allowed = 0o700 if path.is_dir() else 0o600
        assert _mode(path) & ~allowed == 0, f"{path} is open to others: {oct(_mode(path))}"


def test_the_embedded_containerd_keeps_its_socket_and_state_private() -> None:
    import shutil
    import tempfile

    from ctrd.daemon import Embedded, start_embedded, stop_embedded

    base = Path(tempfile.mkdtemp(prefix="perm-", dir="/tmp"))  # a unix socket path must stay short
    embedded = Embedded(data_root=base / "root", run_root=base / "run")
    try:
        start_embedded(embedded, timeout=60)
        for path in (embedded.data_root, embedded.root, embedded.state, embedded.run_root):
            assert _mode(path) == 0o700, f"{path}: {oct(_mode(path))}"
        assert _mode(embedded.socket) & 0o007 == 0
        assert _mode(embedded.log) == 0o600
    finally:
        stop_embedded(embedded)
        shutil.rmtree(base, ignore_errors=True)
