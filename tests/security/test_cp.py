"""``cp`` and the host boundary (docs/SECURITY.md): the host reads and writes a container's files only
through descriptors resolved inside its root, never chroots or looks a name up there, and a hostile
archive or a container racing the copy cannot make it touch anything outside.

The first part attacks the resolver and the extractor on a directory standing for a root, with both
resolvers (openat2 and the no-follow walk); the second goes through ``cp`` against the real containerd.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument, NotFound
from managers.cpin import untar_into
from managers.cplimits import CopyLimits
from managers.cpout import tar_from
from managers.safepath import Root, openat2_supported

RESOLVERS = ["openat2", "walk"]


@pytest.fixture(params=RESOLVERS)
def resolver(request: pytest.FixtureRequest) -> bool:
    if request.param == "openat2" and not openat2_supported():
        pytest.skip("this kernel has no openat2")
    return request.param == "walk"


@pytest.fixture
def jail(tmp_path: Path, resolver: bool) -> Iterator[tuple[Path, Root, Path]]:
    """(root directory, Root on it, a host directory beside it that nothing may reach)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/", root / "escape")
    os.symlink("../../../../../../..", root / "up")
    os.symlink(str(outside), root / "out")
    os.symlink("/etc", root / "etc-abs")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        yield root, Root(fd, walk=resolver), outside
    finally:
        os.close(fd)


def _same(fd: int, path: Path) -> bool:
    a, b = os.fstat(fd), os.stat(path, follow_symlinks=False)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    buf.seek(0)
    return buf


def _member(name: str, kind: bytes = tarfile.REGTYPE, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = attrs.pop("mode", 0o644)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


# -- the resolver ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "escape/etc/passwd", "up/etc/passwd", "/../../etc/passwd", "etc-abs/passwd", "escape/up/escape/etc/passwd",
    "etc/../../../etc/passwd", "up/../etc/./passwd",
])
def test_links_and_dotdot_resolve_inside_the_root(jail: tuple[Path, Root, Path], path: str) -> None:
    root, r, _ = jail
    fd = r.open(path, os.O_RDONLY)
    try:
        assert _same(fd, root / "etc" / "passwd")  # the root's file, never the host's /etc/passwd
    finally:
        os.close(fd)


def test_a_link_to_a_host_path_cannot_reach_it(jail: tuple[Path, Root, Path]) -> None:
    root, r, outside = jail
    for path in ("out/secret", f"escape{outside}/secret", f"up{outside}/secret"):
        with pytest.raises(FileNotFoundError):
            r.open(path, os.O_RDONLY)


def test_the_last_link_is_not_followed_when_asked_and_loops_end(jail: tuple[Path, Root, Path]) -> None:
    root, r, _ = jail
    fd = r.open("escape", os.O_PATH, follow=False)
    try:
        assert stat.S_ISLNK(os.fstat(fd).st_mode) and _same(fd, root / "escape")
    finally:
        os.close(fd)
    with pytest.raises(OSError) as err:
        r.open("escape", os.O_RDONLY | os.O_DIRECTORY, follow=False)
    assert err.value.errno in (errno.ELOOP, errno.ENOTDIR)
    with pytest.raises(OSError) as err:
        r.open("loop1/x", os.O_RDONLY)
    assert err.value.errno == errno.ELOOP
    parent, name = r.parent("escape/etc-abs")
    try:
        assert name == "etc-abs" and _same(parent, root)
    finally:
        os.close(parent)


# -- extraction ---------------------------------------------------------------------------------------


def _extract(r: Root, path: str, stream: io.BytesIO, limits: CopyLimits | None = None, rename: bool = False) -> int:
    return untar_into(r, path, stream, limits or CopyLimits(), rename=rename)


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "a/b/../../../evil", ".."])
def test_dotdot_members_are_refused_and_nothing_is_written(jail: tuple[Path, Root, Path], name: str) -> None:
    root, r, outside = jail
    before = _files_under(root.parent)
    stream = _tar((_member("ok"), b"fine"), (_member(name), b"evil"))
    with pytest.raises(InvalidArgument, match=r"'\.\.'"):
        _extract(r, "/", stream)
    assert _files_under(root.parent) == before


def test_absolute_members_land_under_the_destination(jail: tuple[Path, Root, Path]) -> None:
    root, r, outside = jail
    _extract(r, "/etc", _tar((_member(f"{outside}/planted"), b"x"), (_member("/abs"), b"y")))
    assert (root / "etc" / outside.relative_to("/") / "planted").read_bytes() == b"x"
    assert (root / "etc" / "abs").read_bytes() == b"y"
    assert sorted(os.listdir(outside)) == ["secret"]


@pytest.mark.parametrize("target", ["/", "../../..", "OUTSIDE"])
def test_links_pointing_out_are_made_but_never_written_through(jail: tuple[Path, Root, Path], target: str) -> None:
    root, r, outside = jail
    target = str(outside) if target == "OUTSIDE" else target
    stream = _tar((_member("hop", tarfile.SYMTYPE, linkname=target), b""), (_member("hop/secret"), b"overwritten"))
    with pytest.raises(InvalidArgument, match="symlink"):
        _extract(r, "/", stream)
    # The container's own link, already there, is refused the same way.
    with pytest.raises(InvalidArgument, match="symlink"):
        _extract(r, "/", _tar((_member("out/secret"), b"overwritten"), (_member("escape/x"), b"x")))
    assert (outside / "secret").read_text() == "host secret\n"
    assert _files_under(outside) == {"secret"}
    # Alone, the link is data in the container: created as it is.
    _extract(r, "/", _tar((_member("hop", tarfile.SYMTYPE, linkname=target), b"")))
    assert os.readlink(root / "hop") == target


def test_a_file_replacing_a_link_replaces_the_link_not_its_target(jail: tuple[Path, Root, Path]) -> None:
    root, r, outside = jail
    _extract(r, "/", _tar((_member("out"), b"a file now")))
    assert (root / "out").read_bytes() == b"a file now" and not (root / "out").is_symlink()
    assert (outside / "secret").read_text() == "host secret\n"


def test_device_nodes_are_refused(jail: tuple[Path, Root, Path]) -> None:
    root, r, _ = jail
    for kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        stream = _tar((_member("disk", kind, devmajor=8, devminor=0), b""))
        with pytest.raises(InvalidArgument, match="device node"):
            _extract(r, "/", stream)
        assert not os.path.lexists(root / "disk")


def test_setuid_bits_and_numeric_owners_are_kept_inside(jail: tuple[Path, Root, Path]) -> None:
    root, r, _ = jail
    stream = _tar(
        (_member("bin/su", mode=0o4755, uid=4321, gid=8765, uname="root", gname="root"), b"#!"),
        (_member("bin/sg", mode=0o2711, uid=0, gid=0, uname="nobody", gname="nogroup"), b"#!"),
    )
    _extract(r, "/", stream)
    su, sg = os.stat(root / "bin" / "su"), os.stat(root / "bin" / "sg")
    assert stat.S_IMODE(su.st_mode) == 0o4755 and (su.st_uid, su.st_gid) == (4321, 8765)  # ids, not names
    assert stat.S_IMODE(sg.st_mode) == 0o2711 and (sg.st_uid, sg.st_gid) == (0, 0)


@pytest.mark.parametrize("linkname", ["/etc/shadow", "../../outside/secret", "etc/passwd", "later"])
def test_hard_links_only_to_files_of_the_same_archive(jail: tuple[Path, Root, Path], linkname: str) -> None:
    root, r, outside = jail
    stream = _tar((_member("h", tarfile.LNKTYPE, linkname=linkname), b""), (_member("later"), b"x"))
    with pytest.raises(InvalidArgument):
        _extract(r, "/", stream)
    assert not os.path.lexists(root / "h")
    assert os.stat(outside / "secret").st_nlink == 1
    _extract(r, "/", _tar((_member("first"), b"x"), (_member("second", tarfile.LNKTYPE, linkname="first"), b"")))
    assert os.stat(root / "first").st_ino == os.stat(root / "second").st_ino


def test_member_count_and_size_are_bounded(jail: tuple[Path, Root, Path]) -> None:
    root, r, _ = jail
    many = _tar(*[(_member(f"m/{i}"), b"") for i in range(300)])
    with pytest.raises(InvalidArgument, match="more than 100 entries .*POUCHSH_CP_MAX_MEMBERS"):
        _extract(r, "/", many, CopyLimits(members=100))
    assert not (root / "m").exists()
    big = _tar((_member("big"), b"x" * 5000))
    with pytest.raises(InvalidArgument, match="more than 4096 bytes .*POUCHSH_CP_MAX_BYTES"):
        _extract(r, "/", big, CopyLimits(bytes=4096))
    assert not (root / "big").exists()
    assert _extract(r, "/", _tar(*[(_member(f"m/{i}"), b"ab") for i in range(300)])) == 600


def test_destination_through_links_stays_inside(jail: tuple[Path, Root, Path]) -> None:
    root, r, outside = jail
    _extract(r, "/escape/up/etc-abs", _tar((_member("x"), b"x")))  # links followed, inside the root
    assert (root / "etc" / "x").read_bytes() == b"x"
    for dest in (f"/escape{outside}", "/out", f"/up{outside}/new"):
        with pytest.raises(InvalidArgument, match="not a directory|does not exist"):
            _extract(r, dest, _tar((_member("x"), b"x")), rename=dest.endswith("new"))
    assert _files_under(outside) == {"secret"}


# -- copy out -----------------------------------------------------------------------------------------


def _members(r: Root, path: str, limits: CopyLimits | None = None) -> list[tarfile.TarInfo]:
    buf = io.BytesIO()
    tar_from(r, path, buf, limits or CopyLimits())
    buf.seek(0)
    with tarfile.open(fileobj=buf, mode="r") as tar:
        return tar.getmembers()


def test_copy_out_archives_links_as_links_with_numeric_ids(jail: tuple[Path, Root, Path]) -> None:
    root, r, outside = jail
    os.chown(root / "etc" / "passwd", 4321, 8765)
    members = {m.name: m for m in _members(r, "/")}
    assert members["./escape"].issym() and members["./escape"].linkname == "/"
    assert members["./out"].issym() and not any("secret" in name for name in members)
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    assert (members["./etc/passwd"].uid, members["./etc/passwd"].gid) == (4321, 8765)
    # The source itself a link: the link, not the host's root.
    assert [(m.name, m.issym()) for m in _members(r, "/escape")] == [("escape", True)]
    assert [m.name for m in _members(r, "/escape/etc/")] == ["etc", "etc/passwd"]  # followed, inside
    with pytest.raises(FileNotFoundError):
        _members(r, f"/escape{outside}/secret")
    with pytest.raises(InvalidArgument, match="POUCHSH_CP_MAX_MEMBERS"):
        _members(r, "/", CopyLimits(members=3))


def test_no_host_code_ever_chroots() -> None:
    """No module of pouchsh chroots (the old ``cp`` ran the host's Python chrooted in the container)."""
    import ast

    repo = Path(__file__).resolve().parents[2]
    found = []
    for source in sorted(p for pkg in ("grammar", "pouchsh", "managers", "ctrd") for p in (repo / pkg).rglob("*.py")):
        if "/api/" in str(source):
            continue
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Attribute) and node.attr in ("chroot", "fchdir"):
                found.append(f"{source}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value in ("chroot", b"chroot"):
                found.append(f"{source}:{node.lineno}")
    assert found == []


# -- through cp, against containerd --------------------------------------------------------------------

NSS_C = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {
    int fd = open(MARKER, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
}
int _nss_evil_getpwuid_r(void) { return 0; }
"""


def _image(ns_client: Any, tmp_path: Path, entries: list[tuple[str, str, Any]], name: str) -> str:
    from ctrd.imports import import_oci_layout
    from tests.support.images import build_extra_layer_layout

    layout = build_extra_layer_layout(tmp_path / f"layout-{uuid.uuid4().hex[:6]}", entries, name=name)
    (image,) = import_oci_layout(ns_client, layout)
    return str(image.name)


def _nss_library(tmp_path: Path, marker: str) -> bytes | None:
    """A libnss module that leaves ``marker`` wherever it is loaded (None without a C compiler)."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    src, lib = tmp_path / "nss.c", tmp_path / "libnss_evil.so.2"
    src.write_text(NSS_C)
    subprocess.run([cc, "-shared", "-fPIC", f'-DMARKER="{marker}"', "-o", str(lib), str(src)], check=True)
    return lib.read_bytes()


def _tar_out(shell: Any, ref: str) -> list[tarfile.TarInfo]:
    out = io.BytesIO()
    shell.facade.containers.copy(ref, "-", stdout=out)
    out.seek(0)
    with tarfile.open(fileobj=out, mode="r") as tar:
        return tar.getmembers()


def _cp_in(shell: Any, ref: str, stream: io.BytesIO) -> None:
    shell.facade.containers.copy("-", ref, stdin=stream)


class Guard:
    """While ``watching``: any user or group name lookup in this process fails the test, and every
    program started and every library loaded is recorded (audit hooks cannot be removed: this one only
    records while watching)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.active = False

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.fork", "os.system"):
            self.events.append(f"{event} {args[:2]}")
        if event == "ctypes.dlopen" and args and args[0] is not None:
            self.events.append(f"{event} {args[0]}")

    def watching(self, action: Callable[[], Any]) -> Any:
        self.active = True
        try:
            return action()
        finally:
            self.active = False


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    import grp
    import pwd

    g = Guard()

    for module, names in ((pwd, ("getpwnam", "getpwuid")), (grp, ("getgrnam", "getgrgid"))):
        for fname in names:
            original = getattr(module, fname)

            def checked(*args: Any, _original: Any = original) -> Any:
                if g.active:
                    raise AssertionError(f"a name lookup during cp: {args}")
                return _original(*args)

            monkeypatch.setattr(module, fname, checked)
    sys.addaudithook(g.hook)
    return g


@pytest.mark.containerd
def test_cp_loads_nothing_from_the_container_and_looks_no_name_up(
    shell: Any, ns_client: Any, tmp_path: Path, guard: Guard
) -> None:
    token = uuid.uuid4().hex[:10]
    marker = f"/tmp/nss-loaded-{token}"
    lib = _nss_library(tmp_path, marker)
    entries: list[tuple[str, str, Any]] = [
        ("file", "etc/nsswitch.conf", b"passwd: evil\ngroup: evil\nshadow: evil\n"),
        ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nevil:x:4321:8765::/:/bin/sh\n"),
        ("file", "etc/group", b"root:x:0:\nevil:x:8765:\n"),
        ("dir", "lib", 0o755), ("dir", "lib/x86_64-linux-gnu", 0o755), ("dir", "usr/lib", 0o755),
    ]
    if lib is not None:
        entries += [("file", f"{d}/libnss_evil.so.2", (lib, 0o755)) for d in ("lib", "lib/x86_64-linux-gnu", "usr/lib")]
    image = _image(ns_client, tmp_path, entries, f"docker.io/library/nss-{token}:1")
    shell.run(f"run -d --network none --name box {image} sleep 300")
    for state in ("running", "stopped"):
        if state == "stopped":
            shell.run("stop -t 0 box")
        # A header naming a user only the image knows, with other numeric ids: the ids win, no lookup.
        stream = _tar((_member(f"owned-{state}", uid=1111, gid=2222, uname="evil", gname="evil"), b"x"))
        guard.watching(lambda: _cp_in(shell, "box:/tmp", stream))
        (got,) = guard.watching(lambda: _tar_out(shell, f"box:/tmp/owned-{state}"))
        assert (got.uid, got.gid, got.uname, got.gname) == (1111, 2222, "", "")
        names = {m.name: m for m in guard.watching(lambda: _tar_out(shell, "box:/etc"))}
        assert names["etc/passwd"].uname == "" and names["etc/nsswitch.conf"].uname == ""
        assert (names["etc/passwd"].uid, names["etc/passwd"].gid) == (0, 0)
    assert guard.events == [], guard.events
    assert not os.path.exists(marker)  # not loaded by this process
    with pytest.raises(NotFound):
        _tar_out(shell, f"box:{marker}")  # nor by anything chrooted in the container


@pytest.fixture
def hostile(shell: Any, ns_client: Any, tmp_path: Path) -> tuple[str, Path]:
    """An image whose links point at the host: ``/escape -> /``, ``/up -> ../../..``, ``/hostlink`` to a
    host directory that holds a secret. Returns (image, that directory)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    entries: list[tuple[str, str, Any]] = [
        ("link", "escape", "/"), ("link", "up", "../../../../.."), ("link", "hostlink", str(outside)),
        ("link", "etc/hostlink", str(outside / "secret")), ("dir", "w", 0o755),
    ]
    return _image(ns_client, tmp_path, entries, f"docker.io/library/links-{uuid.uuid4().hex[:6]}:1"), outside


@pytest.mark.containerd
@pytest.mark.parametrize("state", ["running", "stopped"])
@pytest.mark.parametrize("walk", [False, True], ids=["openat2", "walk"])
def test_cp_through_links_to_the_host_stays_in_the_container(
    shell: Any, hostile: tuple[str, Path], tmp_path: Path, state: str, walk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if walk:
        monkeypatch.setenv("POUCHSH_PATH_WALK", "1")
    image, outside = hostile
    shell.run(f"run -d --network none --name box {image} sleep 300")
    if state == "stopped":
        shell.run("stop -t 0 box")
    c = shell.facade.containers
    for ref in (f"box:/escape{outside}/secret", "box:/hostlink/secret", f"box:/up/up{outside}/secret"):
        with pytest.raises(NotFound):
            _tar_out(shell, ref)
    assert [(m.name, m.issym(), m.linkname) for m in _tar_out(shell, "box:/escape")] == [("escape", True, "/")]
    assert [(m.name, m.issym()) for m in _tar_out(shell, "box:/etc/hostlink")] == [("hostlink", True)]
    (tmp_path / "f.txt").write_text("from host\n")
    for dest in ("box:/hostlink/", f"box:/escape{outside}/", "box:/etc/hostlink/", f"box:/up{outside}/planted"):
        with pytest.raises(InvalidArgument):
            c.copy(str(tmp_path / "f.txt"), dest)
    c.copy(str(tmp_path / "f.txt"), "box:/etc/hostlink")  # replaces the link itself, inside
    assert _tar_out(shell, "box:/etc/hostlink")[0].isreg()
    hostile_members = [
        _tar((_member("hostlink/planted"), b"x")),
        _tar((_member("escape", tarfile.SYMTYPE, linkname="/"), b""), (_member(f"escape{outside}/planted"), b"x")),
        _tar((_member("../../../../planted"), b"x")),
        _tar((_member("null", tarfile.CHRTYPE, devmajor=1, devminor=3), b"")),
        _tar((_member("h", tarfile.LNKTYPE, linkname=f"{outside}/secret"), b"")),
    ]
    for stream in hostile_members:
        with pytest.raises(InvalidArgument):
            _cp_in(shell, "box:/", stream)
    monkeypatch.setenv("POUCHSH_CP_MAX_MEMBERS", "50")
    with pytest.raises(InvalidArgument, match="POUCHSH_CP_MAX_MEMBERS"):
        _cp_in(shell, "box:/w", _tar(*[(_member(f"n{i}"), b"") for i in range(60)]))
    monkeypatch.delenv("POUCHSH_CP_MAX_MEMBERS")
    _cp_in(shell, "box:/w", _tar((_member(f"{outside}/abs"), b"a"), (_member("suid", mode=0o4755), b"#!")))
    members = {m.name: m for m in _tar_out(shell, "box:/w")}
    assert f"w{outside}/abs" in members and members["w/suid"].mode == 0o4755
    assert "w/n0" not in members
    assert _files_under(outside) == {"secret"} and (outside / "secret").read_text() == "host secret\n"


def _exchange(a: str, b: str) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    # renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE): the two names swap at once
    if libc.syscall(316, -100, a.encode(), -100, b.encode(), 2) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


@pytest.mark.containerd
@pytest.mark.parametrize("walk", [False, True], ids=["openat2", "walk"])
def test_a_link_swapped_in_during_the_copy_cannot_redirect_it(
    shell: Any, hostile: tuple[str, Path], walk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CVE-2018-15664: while ``cp`` runs, ``/w/d`` flips between a directory and a link to a host
    directory; whatever each copy saw, nothing lands in or comes from the host directory."""
    if walk:
        monkeypatch.setenv("POUCHSH_PATH_WALK", "1")
    image, outside = hostile
    shell.run(f"run -d --network none --name box {image} sleep 300")
    pid = shell.facade.containers.inspect("box")["pid"]
    base = f"/proc/{pid}/root/w"
    os.mkdir(f"{base}/d")
    os.symlink(str(outside), f"{base}/spare")
    stop = threading.Event()
    flips = [0]

    def flip() -> None:
        while not stop.is_set():
            _exchange(f"{base}/d", f"{base}/spare")
            flips[0] += 1

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    outcomes: dict[str, int] = {}
    try:
        for i in range(150):
            for what, action in (
                ("in", lambda: _cp_in(shell, "box:/w/d", _tar((_member(f"planted-{i}"), b"x")))),
                ("in-nested", lambda: _cp_in(shell, "box:/w", _tar((_member(f"d/nested-{i}"), b"x")))),
                ("out", lambda: _tar_out(shell, "box:/w/d/")),
            ):
                try:
                    result = action()
                    if what == "out":
                        assert not any("secret" in m.name for m in result)  # type: ignore[union-attr]
                    outcomes[f"{what} ok"] = outcomes.get(f"{what} ok", 0) + 1
                except (InvalidArgument, NotFound):
                    outcomes[f"{what} refused"] = outcomes.get(f"{what} refused", 0) + 1
    finally:
        stop.set()
        flipper.join()
    assert flips[0] > 100, flips
    assert _files_under(outside) == {"secret"}, outcomes
    assert outcomes.get("in ok", 0) > 0 and outcomes.get("out ok", 0) > 0, outcomes  # the race was run


def _spawn(containerd_address: str, namespace: str, roots: tuple[Path, Path], *args: str) -> subprocess.Popen[bytes]:
    from tests.reliability.conftest import REPO, pouchsh_env

    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pouchsh_env(roots), cwd=REPO)


def _read_some(proc: subprocess.Popen[bytes], want: int, deadline: float) -> bytes:
    import select

    assert proc.stdout is not None
    got = b""
    while len(got) < want:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no tar stream from cp in time: {proc.poll()}")
        chunk = os.read(proc.stdout.fileno(), want - len(got))
        if not chunk:
            raise AssertionError(f"cp ended early: {proc.wait()} {proc.stderr.read() if proc.stderr else b''!r}")
        got += chunk
    return got


def _mount_lines(needle: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if needle in line or "pouchsh-rootfs" in line]


@pytest.mark.containerd
def test_kill_9_mid_copy_from_a_stopped_container_leaks_no_mount(
    shell: Any, containerd_address: str, namespace: str, roots: tuple[Path, Path]
) -> None:
    shell.run("run --network none --name box busybox sh -c 'head -c 8388608 /dev/zero > /big'")
    c = shell.facade.containers
    info = c.inspect("box")
    mounts = shell.facade.ctrd.snapshots.mounts(info.get("snapshot_key") or info["id"])
    upper = next(o.split("=", 1)[1] for m in mounts for o in m.options if o.startswith("upperdir="))
    for _ in range(3):
        proc = _spawn(containerd_address, namespace, roots, "-c", "cp box:/big -")
        try:
            # The first bytes are through; the rest waits on a pipe nobody reads: the copy holds its mount.
            _read_some(proc, 64 << 10, time.monotonic() + 60)
            assert proc.poll() is None
            assert _mount_lines(upper) == []  # the snapshot is mounted detached: attached nowhere
        finally:
            proc.kill()
            proc.wait(30)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -9
        assert _mount_lines(upper) == []
    out = io.BytesIO()
    assert c.copy("box:/big", "-", stdout=out)["size"] == 8388608
    shell.run("rm box")
    assert shell.facade.ctrd.containers.list() == []


@pytest.mark.containerd
def test_cp_errors_are_one_clean_line(cli: Any, tmp_path: Path) -> None:
    """Whatever the archive or the path, ``cp`` fails with ``error[kind]: message``: no traceback's text."""
    import gzip

    assert cli("-c", "run -d --network none --name box busybox sleep 300").returncode == 0
    whole = _tar((_member("f"), os.urandom(8192))).getvalue()
    packed = gzip.compress(whole)
    cases = {
        b"not a tar at all" * 64: "invalid-argument",
        whole[:700]: "invalid-argument",  # a member's data cut short
        packed[: len(packed) // 2]: "invalid-argument",  # a gzip stream cut short
        _tar((_member("../x"), b"x")).getvalue(): "invalid-argument",
        _tar((_member("dev", tarfile.BLKTYPE), b"")).getvalue(): "invalid-argument",
    }
    for data, kind in cases.items():
        proc = cli("-c", "cp - box:/tmp", input=data)
        err = proc.stderr.decode()
        assert proc.returncode != 0 and err.startswith(f"error[{kind}]: cp"), err
        assert "Traceback" not in err and 'File "' not in err and err.splitlines()[1].startswith(" --> "), err
    for args, kind in ((("cp", "box:/nonexistent", "-"), "not-found"), (("cp", "box:/escape/../../etc/x", "-"), "not-found"),
                       (("cp", "-", "box:/nonexistent/dir/"), "invalid-argument")):
        proc = cli("-c", " ".join(args))
        err = proc.stderr.decode()
        assert err.startswith(f"error[{kind}]: cp") and "Traceback" not in err, err
        assert err.splitlines()[1].startswith(" --> "), err  # the message is one line, then its place
    cli("-c", "rm -f box")
