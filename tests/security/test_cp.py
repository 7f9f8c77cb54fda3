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
