"""``cp CONTAINER:PATH HOST`` (bug 3): links copy as links with their target text unchanged (absolute ones
too: ``cp CTR:/etc out`` failed on them), ``-L`` follows the one at the source path inside the container's
root, and a copy that fails leaves nothing on the host. The host side is written by managers.cphost, which
follows nothing in the stream: a hostile stream cannot write through a link, outside the copy, a setuid
file or a device node."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument, NotFound, PouchError, PouchRuntimeError
from managers.cphost import extract_on_host
from tests.security.test_cp import _image, _member, _tar


def _debris(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".pouchsh-cp-" in p.name]


@pytest.fixture
def linked(shell: Any, ns_client: Any, tmp_path: Path) -> tuple[str, Path]:
    """A running container whose /etc holds absolute and relative links, one pointing at a host
    directory with a secret; returns (its name, that host directory)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    entries: list[tuple[str, str, Any]] = [
        ("link", "etc/mtab", "/proc/mounts"), ("link", "etc/rel", "passwd"), ("link", "etc/abs", "/etc/passwd"),
        ("link", "etc/hostdir", str(outside)), ("link", "etc/hostsecret", str(outside / "secret")),
        ("dir", "etc/sub", 0o755), ("file", "etc/sub/deep", b"deep\n"), ("link", "top", "/etc"),
        ("link", "escape", "/../../../../etc"),
    ]
    image = _image(ns_client, tmp_path, entries, f"docker.io/library/cplinks-{uuid.uuid4().hex[:6]}:1")
    shell.run(f"run -d --network none --name linky {image} sleep 300")
    return "linky", outside


@pytest.mark.containerd
def test_cp_out_of_etc_copies_links_as_links(shell: Any, linked: tuple[str, Path], tmp_path: Path) -> None:
    name, outside = linked
    out = tmp_path / "out"
    shell.run(f"cp {name}:/etc {out}")
    assert os.readlink(out / "mtab") == "/proc/mounts"  # the text unchanged, not followed
    assert os.readlink(out / "abs") == "/etc/passwd"
    assert os.readlink(out / "rel") == "passwd"
    assert os.readlink(out / "hostdir") == str(outside)
    assert (out / "passwd").read_bytes().startswith(b"root:")
    assert (out / "sub" / "deep").read_text() == "deep\n"
    # into an existing directory: as out/etc, and again (docker's merge) without an error
    shell.run(f"cp {name}:/etc {out}")
    assert os.readlink(out / "etc" / "mtab") == "/proc/mounts"
    shell.run(f"cp {name}:/etc {out}")
    assert (outside / "secret").read_text() == "host secret\n" and sorted(os.listdir(outside)) == ["secret"]
    assert _debris(tmp_path) == [] and _debris(out) == []
    # a link itself, without -L: a link on the host too
    shell.run(f"cp {name}:/etc/mtab {tmp_path / 'mtab'}")
    assert os.readlink(tmp_path / "mtab") == "/proc/mounts"


@pytest.mark.containerd
@pytest.mark.parametrize("walk", [False, True], ids=["openat2", "walk"])
def test_cp_L_follows_inside_the_container(
    shell: Any, linked: tuple[str, Path], tmp_path: Path, walk: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if walk:
        monkeypatch.setenv("POUCHSH_PATH_WALK", "1")
    name, outside = linked
    shell.run(f"cp -L {name}:/etc/abs {tmp_path / 'abs'}")
    got = tmp_path / "abs"
    assert not got.is_symlink() and got.read_bytes().startswith(b"root:")  # the container's /etc/passwd
    shell.run(f"cp -L {name}:/top {tmp_path / 'top'}")  # a link to a directory: the directory
    assert (tmp_path / "top").is_dir() and os.readlink(tmp_path / "top" / "mtab") == "/proc/mounts"
    # a link to a host path names that path inside the container, where it does not exist
    for ref in (f"{name}:/etc/hostsecret", f"{name}:/etc/hostdir"):
        with pytest.raises(NotFound):
            shell.facade.containers.copy(ref, str(tmp_path / "leak"), follow_link=True)
    assert not (tmp_path / "leak").exists()
    # /../../../../etc is the container's /etc, not the host's
    shell.run(f"cp -L {name}:/escape {tmp_path / 'etc'}")
    assert (tmp_path / "etc" / "passwd").read_bytes() == (tmp_path / "abs").read_bytes()
    assert os.readlink(tmp_path / "etc" / "hostdir") == str(outside)
    assert _debris(tmp_path) == []


@pytest.mark.containerd
def test_a_failed_cp_out_leaves_nothing(shell: Any, linked: tuple[str, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    name, _ = linked
    out = tmp_path / "dest" / "out"
    out.parent.mkdir()
    monkeypatch.setenv("POUCHSH_CP_MAX_MEMBERS", "3")  # the container side stops at its bound
    with pytest.raises(InvalidArgument):
        shell.facade.containers.copy(f"{name}:/etc", str(out))
    monkeypatch.delenv("POUCHSH_CP_MAX_MEMBERS")
    from managers import cphost

    made: list[str] = []
    real = cphost._Writer._create

    def fails_late(self: Any, dir_fd: int, entry: str, m: tarfile.TarInfo, tar: Any, rel: list[str]) -> None:
        made.append(entry)
        if len(made) == 6:  # the host side fails half-way (a full disk, say)
            raise OSError(28, "No space left on device")
        real(self, dir_fd, entry, m, tar, rel)

    monkeypatch.setattr(cphost._Writer, "_create", fails_late)
    with pytest.raises(PouchError) as caught:
        shell.facade.containers.copy(f"{name}:/etc", str(out))
    assert "No space left" in str(caught.value)
    assert len(made) == 6
    assert os.listdir(out.parent) == []  # no out, no temporary sibling


# -- the host side alone, on hostile streams ------------------------------------------------------------


@pytest.fixture
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data root whose intent journal names the temporary sibling (apart from the copies' folder)."""
    return tmp_path_factory.mktemp("root")


def test_a_stream_cannot_write_through_its_own_link(tmp_path: Path, data_root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    streams = [
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("d/l", tarfile.SYMTYPE, linkname=str(outside)), b""),
             (_member("d/l/planted"), b"x")),
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("d/../planted"), b"x")),
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("/planted"), b"x")),
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("other/planted"), b"x")),
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("d/h", tarfile.LNKTYPE, linkname=str(outside / "x")), b"")),
        _tar((_member("d", tarfile.DIRTYPE, mode=0o755), b""), (_member("d/f"), b"1"), (_member("d/f"), b"2")),
        _tar((_member("f"), b"x"), (_member("f/under"), b"x")),
    ]
    for stream in streams:
        with pytest.raises((PouchError, OSError)):
            extract_on_host(stream, dest, data_root)
        assert sorted(os.listdir(tmp_path)) == ["outside"], "a refused stream left something"
        assert list((data_root / "intents").glob("*")) == [], "a refused stream left its intent"
        assert os.listdir(outside) == []


def test_modes_lose_setuid_and_devices_are_not_made(tmp_path: Path, data_root: Path) -> None:
    stream = _tar(
        (_member("d", tarfile.DIRTYPE, mode=0o777), b""),
        (_member("d/suid", mode=0o4777), b"#!/bin/sh\n"),
        (_member("d/sgid", mode=0o2755, uid=0, gid=0), b"x"),
        (_member("d/disk", tarfile.BLKTYPE, devmajor=8, devminor=0), b""),
        (_member("d/mem", tarfile.CHRTYPE, devmajor=1, devminor=1), b""),
        (_member("d/fifo", tarfile.FIFOTYPE, mode=0o644), b""),
    )
    out = extract_on_host(stream, tmp_path / "copy", data_root)
    assert out == tmp_path / "copy"
    assert stat.S_IMODE(os.stat(out / "suid").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out / "sgid").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755
    assert sorted(os.listdir(out)) == ["fifo", "sgid", "suid"]
    assert os.stat(out / "suid").st_uid == os.getuid()


def test_a_file_onto_a_directory_is_refused(tmp_path: Path, data_root: Path) -> None:
    (tmp_path / "d" / "f").mkdir(parents=True)
    with pytest.raises(InvalidArgument):
        extract_on_host(_tar((_member("f"), b"x")), tmp_path / "d", data_root)
    with pytest.raises(PouchRuntimeError):
        extract_on_host(io.BytesIO(b"not a tar" * 100), tmp_path / "e", data_root)
    assert sorted(os.listdir(tmp_path)) == ["d"]
