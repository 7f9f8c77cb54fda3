"""``diff`` reads a hostile container's overlay layers on the host (managers.fsdiff): it never follows a
link, never opens a file or device, stops at bounds of depth and entries, and escapes names that carry
terminal control sequences. Directories stand for the overlay's upper and lower layers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctrd.errors import Limit
from managers.fsdiff import MAX_DEPTH, changes


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(upper, lower, a host directory nothing may reach)."""
    upper, lower, outside = tmp_path / "upper", tmp_path / "lower", tmp_path / "outside"
    for d in (upper, lower, outside):
        d.mkdir()
    (outside / "secret").write_text("host\n")
    (outside / "sub").mkdir()
    (lower / "etc").mkdir()
    (lower / "etc" / "passwd").write_text("root\n")
    (lower / "gone").write_text("x")
    return upper, lower, outside


def _kinds(upper: Path, lower: Path, **kw: object) -> dict[str, str]:
    return {r["path"]: r["kind"] for r in changes(upper, [lower], **kw)}  # type: ignore[arg-type]


def test_links_are_changes_never_paths_to_walk(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, outside = layers
    os.symlink(str(outside), upper / "out")  # a directory link to the host: listed, not entered
    os.symlink("/", upper / "root")
    (upper / "etc").mkdir()
    os.symlink(str(outside / "secret"), upper / "etc" / "passwd")  # a link replacing a file
    assert _kinds(upper, lower) == {"/out": "A", "/root": "A", "/etc": "C", "/etc/passwd": "C"}


def test_a_link_in_a_lower_layer_is_not_followed_either(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, outside = layers
    os.symlink(str(outside), lower / "data")  # the image's /data links to the host's directory
    (upper / "data").mkdir()
    (upper / "data" / "secret").write_text("y")  # would be "C" if the lower link were followed
    (upper / "data" / "sub").mkdir()
    kinds = _kinds(upper, lower)
    assert kinds["/data/secret"] == "A" and kinds["/data/sub"] == "A"


def test_whiteouts_and_opaque_directories(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, _ = layers
    os.mknod(upper / "gone", 0o600 | 0o020000, os.makedev(0, 0))  # overlayfs's whiteout
    (upper / "etc").mkdir()
    os.setxattr(upper / "etc", "trusted.overlay.opaque", b"y")  # etc replaced: its content is new
    (upper / "etc" / "passwd").write_text("mine\n")
    os.mknod(upper / "etc" / "fifo", 0o600 | 0o010000)  # a FIFO must not block the walk: it is not opened
    os.mknod(upper / "etc" / "tty", 0o600 | 0o020000, os.makedev(5, 0))  # a real device node: only looked at
    assert _kinds(upper, lower) == {"/gone": "D", "/etc": "C", "/etc/passwd": "A", "/etc/fifo": "A", "/etc/tty": "A"}


def test_bounds_of_depth_and_entries(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, _ = layers
    for i in range(50):
        (upper / f"f{i}").write_text("")
    with pytest.raises(Limit, match="more than 10 changed entries"):
        changes(upper, [lower], max_entries=10)
    fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(MAX_DEPTH + 2):  # deeper than PATH_MAX allows by path, made relative to descriptors
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
    finally:
        os.close(fd)
    with pytest.raises(Limit, match="deeper than"):
        changes(upper, [lower])


def test_hostile_names_are_escaped(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, _ = layers
    (upper / "\x1b]0;pwned\x07").write_text("")
    os.close(os.open(os.fsencode(upper) + b"/bad\xff", os.O_CREAT | os.O_WRONLY, 0o600))
    paths = [r["path"] for r in changes(upper, [lower])]
    assert paths == ["/\\x1b]0;pwned\\x07", "/bad\\xff"]
    assert all(p.isprintable() for p in paths)


def test_mountpoints_runc_made_are_not_changes(layers: tuple[Path, Path, Path]) -> None:
    upper, lower, _ = layers
    (upper / "etc").mkdir()
    (upper / "etc" / "hosts").write_text("")
    (upper / "run").mkdir()
    assert _kinds(upper, lower, mountpoints=["/etc/hosts", "/run", "/proc"]) == {}
    (upper / "etc" / "passwd").write_text("changed\n")
    assert _kinds(upper, lower, mountpoints=["/etc/hosts"]) == {"/etc": "C", "/etc/passwd": "C", "/run": "A"}
