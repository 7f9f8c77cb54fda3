"""Hostile images at ``run`` (docs/SECURITY.md): what an image ships decides nothing on the host.

pouchsh's host side reads one thing of a fresh rootfs at create (``/etc/passwd`` and ``/etc/group``, to
resolve a user name, parsed as bytes, never through NSS) and, for ``exec -u``, the same of a running
container. The hosts, resolv.conf and hostname files are written in pouchsh's own state directory and
bind-mounted by runc, which resolves mount targets and the working directory inside the rootfs. These
images point each of those paths at the host with symlinks; the host's files must stay untouched and
unread.
"""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

GHOST_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nghost:x:4242:4343::/:/bin/sh\n"
GHOST_GROUP = b"root:x:0:\nghosts:x:4343:\nhaunt:x:4545:ghost\n"
HOST_PASSWD = "root:x:0:0::/root:/bin/sh\nhostonly:x:777:778::/:/bin/sh\n"


def _image(ns_client: Any, tmp_path: Path, entries: list[tuple[str, str, Any]], config: dict[str, Any] | None = None) -> str:
    from ctrd.imports import import_oci_layout
    from tests.support.images import build_extra_layer_layout

    tag = uuid.uuid4().hex[:8]
    layout = build_extra_layer_layout(tmp_path / f"layout-{tag}", entries, name=f"docker.io/library/hostile-{tag}:1",
                                      config=config)
    (image,) = import_oci_layout(ns_client, layout)
    return str(image.name)


def _snapshot(path: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``path`` with its content and mtime (nanoseconds)."""
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime_ns)
            for p in [path, *path.rglob("*")]}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host directory a hostile image aims at: an ``etc`` with its own passwd, hosts and resolv.conf,
    and empty directories for working directories and mount targets."""
    d = tmp_path / "host"
    (d / "etc").mkdir(parents=True)
    (d / "etc" / "passwd").write_text(HOST_PASSWD)
    (d / "etc" / "group").write_text("root:x:0:\nhostonly:x:778:\n")
    (d / "etc" / "hosts").write_text("10.9.9.9\thost-only-entry\n")
    (d / "etc" / "resolv.conf").write_text("nameserver 10.9.9.9\n")
    (d / "work").mkdir()
    (d / "mnt").mkdir()
    return d


@pytest.mark.containerd
def test_a_user_only_the_image_knows_is_parsed_from_its_passwd(shell: Any, ns_client: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import grp
    import pwd

    def refuse(*args: Any) -> Any:
        raise AssertionError(f"a host name lookup while resolving an image user: {args}")

    image = _image(ns_client, tmp_path, [
        ("file", "etc/passwd", GHOST_PASSWD), ("file", "etc/group", GHOST_GROUP),
        ("file", "etc/nsswitch.conf", b"passwd: evil\ngroup: evil\n"),
    ], config={"User": "ghost"})
    for module, names in ((pwd, ("getpwnam", "getpwuid")), (grp, ("getgrnam", "getgrgid"))):
        for fname in names:
            monkeypatch.setattr(module, fname, refuse)
    shell.run(f"create --network none --name a {image} id")
    shell.run(f"create --network none --name b --user ghost:root {image} id")
    specs = {n: shell.facade.containers.inspect(n)["spec"]["process"]["user"] for n in ("a", "b")}
    assert specs["a"] == {"uid": 4242, "gid": 4343, "additionalGids": [4343, 4545]}
    assert specs["b"] == {"uid": 4242, "gid": 0, "additionalGids": [0]}
    # The container's own id: it sees the user the image named.
    assert "uid=4242" in shell.run("start -a a")
    shell.run(f"run -d --network none --name c {image} sleep 300")
    assert "uid=4242" in shell.run("exec -u ghost c id")
    assert shell.kind(f"create --network none --user nobody {image} true") == "invalid-argument"


MALFORMED = [
    b"evil:x:0x10:0::/:/bin/sh\n", b"evil:x:-1:0::/:/bin/sh\n", b"evil:x:4294967295:0::/:/bin/sh\n",
    b"evil:x:99999999999999999999:0::/:/bin/sh\n", b"evil:x:\xd9\xa1:0::/:/bin/sh\n", b"evil:x:5:\n",
    b"evil:x::0::/:/bin/sh\n",
]


@pytest.mark.parametrize("passwd", MALFORMED)
def test_malformed_ids_in_the_image_are_refused_not_read_as_root(passwd: bytes) -> None:
    from ctrd.errors import InvalidArgument
    from managers.spec import resolve_user

    files = {"/etc/passwd": passwd, "/etc/group": b"evil:x:7:\n"}
    with pytest.raises(InvalidArgument, match="not a user or group id"):
        resolve_user("evil", files.get)
    with pytest.raises(InvalidArgument, match="not a user or group id"):
        resolve_user("0:\u0661", files.get)  # an Arabic-Indic digit is a digit to str.isdigit, not to us


@pytest.mark.containerd
def test_a_malformed_image_user_fails_create_cleanly(shell: Any, ns_client: Any, tmp_path: Path) -> None:
    image = _image(ns_client, tmp_path, [("file", "etc/passwd", MALFORMED[0])], config={"User": "evil"})
    assert shell.kind(f"create --network none {image} true") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []


@pytest.mark.containerd
@pytest.mark.parametrize("shape", ["etc-link", "passwd-link", "group-link"])
def test_passwd_through_a_link_to_the_host_is_never_read(shell: Any, ns_client: Any, tmp_path: Path, host: Path,
                                                         shape: str) -> None:
    entries: list[tuple[str, str, Any]] = {
        "etc-link": [("link", "etc", str(host / "etc"))],
        "passwd-link": [("link", "etc/passwd", str(host / "etc" / "passwd")), ("file", "etc/group", b"root:x:0:\n")],
        "group-link": [("file", "etc/passwd", b"root:x:0:0::/:/bin/sh\nhostonly:x:9:9::/:/bin/sh\n"),
                       ("link", "etc/group", str(host / "etc" / "group"))],
    }[shape]
    before = _snapshot(host)
    image = _image(ns_client, tmp_path, entries)
    wanted = "hostonly" if shape != "group-link" else "hostonly:hostonly"
    assert shell.kind(f"create --network none --user {wanted} {image} true") == "invalid-argument"
    # A running container: ``exec -u`` reads the file through /proc/<pid>/root, inside the root too.
    shell.run(f"run -d --network none --name box --user 0 {image} sleep 300")
    assert shell.kind(f"exec -u {wanted} box true") == "invalid-argument"
    assert _snapshot(host) == before


@pytest.mark.containerd
def test_hosts_and_resolv_conf_linked_to_the_host_stay_untouched(shell: Any, ns_client: Any, tmp_path: Path,
                                                                 host: Path) -> None:
    image = _image(ns_client, tmp_path, [
        ("link", "etc/hosts", str(host / "etc" / "hosts")),
        ("link", "etc/resolv.conf", str(host / "etc" / "resolv.conf")),
        ("link", "etc/hostname", str(host / "etc" / "hostname")),
    ])
    before = _snapshot(host)
    out = shell.run(f"run --rm --network none --hostname inside --add-host extra:10.1.2.3 {image} "
                    "cat /etc/hosts /etc/resolv.conf /etc/hostname")
    assert "localhost" in out and "extra" in out and "inside" in out
    assert "host-only-entry" not in out and "10.9.9.9" not in out  # the host's files were not shown
    assert _snapshot(host) == before  # nor written, nor touched
    # The whole /etc a link to the host's: runc makes the mount targets inside the rootfs.
    image = _image(ns_client, tmp_path, [("link", "etc", str(host / "etc"))])
    out = shell.run(f"run --rm --network none --hostname inside {image} cat /etc/hosts")
    assert "localhost" in out and "host-only-entry" not in out
    assert _snapshot(host) == before


@pytest.mark.containerd
def test_workdir_and_volume_targets_through_links_stay_in_the_rootfs(shell: Any, ns_client: Any, tmp_path: Path,
                                                                     host: Path) -> None:
    image = _image(ns_client, tmp_path, [
        ("link", "work", str(host / "work")), ("link", "mnt", str(host / "mnt")), ("link", "up", "../../../.."),
    ], config={"WorkingDir": "/work/sub"})
    before = _snapshot(host)
    # runc makes the working directory inside the container: where the link dangles the start fails,
    # and ``..`` past the root is the root (the directories are made in the container's /tmp).
    assert shell.kind(f"run --network none --name a {image} true") == "runtime"
    shell.run(f"run --network none --name b --workdir /up{host}/work/other {image} true")
    shell.run(f"volume create data; run --network none --name c --workdir / -v data:/mnt/data -v data:/up{host}/mnt/up {image} "
              "touch /mnt/data/written")
    bind = tmp_path / "bindsrc"
    bind.mkdir()
    shell.run(f"run --network none --name d --workdir / -v {bind}:/mnt/bound {image} touch /mnt/bound/through-bind")
    assert _snapshot(host) == before
    assert (bind / "through-bind").exists()  # the bind itself works, inside the container's view
    # Where runc made the mount targets: inside the rootfs, at the link's target read as a path there.
    c = shell.facade.containers
    for name, path in (("b", f"{host}/work/other"), ("c", f"{host}/mnt/data"), ("c", f"{host}/mnt/up"), ("d", f"{host}/mnt/bound")):
        out = io.BytesIO()
        c.copy(f"{name}:{path}", "-", stdout=out)
        out.seek(0)
        with tarfile.open(fileobj=out) as tar:
            assert tar.getmembers()[0].isdir()
    assert os.listdir(host / "work") == [] and os.listdir(host / "mnt") == []


# -- the layered read, on directories standing for a snapshot's layers --------------------------------


def _layers(tmp_path: Path, *layers: dict[str, Any]) -> list[dict[str, Any]]:
    """An overlay mount description over ``layers`` (top first): path -> bytes, "dir", ("link", target),
    "whiteout" or "opaque"."""
    dirs = []
    for i, layer in enumerate(layers):
        d = tmp_path / f"layer{i}"
        d.mkdir(parents=True)
        for rel, what in sorted(layer.items()):
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(what, bytes):
                p.write_bytes(what)
            elif what == "dir":
                p.mkdir(exist_ok=True)
            elif what == "opaque":
                p.mkdir(exist_ok=True)
                os.setxattr(p, "trusted.overlay.opaque", b"y")
            elif what == "whiteout":
                os.mknod(p, 0o600 | 0o020000, os.makedev(0, 0))
            else:
                os.symlink(what[1], p)
        dirs.append(str(d))
    upper, lowers = dirs[0], dirs[1:]
    return [{"type": "overlay", "source": "overlay",
             "options": [f"upperdir={upper}", f"lowerdir={':'.join(lowers)}"] if lowers else [f"lowerdir={upper}"]}]


def test_read_layered_follows_nothing_and_honours_whiteouts(tmp_path: Path, host: Path) -> None:
    from managers.rootfs import read_layered

    lower = {"etc/passwd": b"lower\n", "etc/group": b"g\n", "data/x": b"x"}
    assert read_layered(_layers(tmp_path / "a", {"etc/motd": b"m"}, lower), "/etc/passwd") == b"lower\n"
    assert read_layered(_layers(tmp_path / "b", {"etc/passwd": "whiteout"}, lower), "/etc/passwd") is None
    assert read_layered(_layers(tmp_path / "c", {"etc": "opaque"}, lower), "/etc/passwd") is None
    assert read_layered(_layers(tmp_path / "d", {"etc": ("link", str(host / "etc"))}, lower), "/etc/passwd") is None
    assert read_layered(_layers(tmp_path / "e", {"etc/passwd": ("link", str(host / "etc/passwd"))}, lower),
                        "/etc/passwd") is None
    assert read_layered(_layers(tmp_path / "f", {"etc/motd": b"m"}, lower), "/etc/../../etc/passwd") is None
    with pytest.raises(Exception, match="larger than"):
        read_layered(_layers(tmp_path / "g", {"etc/passwd": b"x" * 5000}), "/etc/passwd", limit=4096)
