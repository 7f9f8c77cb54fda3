"""Mount specs (-v, --mount, --tmpfs) and volume names: parsed strictly, nothing escapes the volume root."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument
from managers.mountspec import MountRequest, parse_mount, parse_tmpfs, parse_volume, validate_volume_name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/data", MountRequest("volume", "", "/data")),
        ("cache:/var/cache", MountRequest("volume", "cache", "/var/cache")),
        ("cache:/var/cache:ro", MountRequest("volume", "cache", "/var/cache", readonly=True)),
        ("/srv/www:/www:ro,rshared", MountRequest("bind", "/srv/www", "/www", True, "rshared")),
        ("/srv//www/:/www/", MountRequest("bind", "/srv/www", "/www")),
        ("db.1_x:/d:rw,nocopy", MountRequest("volume", "db.1_x", "/d", nocopy=True)),
    ],
)
def test_volume_specs(spec: str, expected: MountRequest) -> None:
    assert parse_volume(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "../etc:/x",          # traversal as a name
        "a/../../b:/x",       # a relative path is neither a name nor a host path
        "..:/x",
        ".hidden:/x",
        "a:/x",               # one character: docker's rule wants two
        "name\x00:/x",
        "data:relative",      # container path must be absolute
        "data:/",             # never over the root
        "data:/a/../b",       # no '..' in the container path
        "data:/x:rw,bogus",   # unknown option
        "/host:/x:nocopy",    # nocopy is for volumes
        "a:b:c:d",
        ":/x",
        "",
    ],
)
def test_bad_volume_specs(spec: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_volume(spec)


@pytest.mark.parametrize("name", ["..", "../x", "/abs", "a/b", "x\x00y", ".", "-lead", "é1", "a" * 256, ""])
def test_volume_names_that_could_escape_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_volume_name(name)


def test_mount_flag() -> None:
    assert parse_mount("type=bind,src=/srv,dst=/www,readonly") == MountRequest("bind", "/srv", "/www", True)
    assert parse_mount("type=volume,source=data,target=/d") == MountRequest("volume", "data", "/d")
    assert parse_mount("target=/anon") == MountRequest("volume", "", "/anon")
    assert parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1777") == MountRequest(
        "tmpfs", "", "/t", options=("size=64m", "mode=1777")
    )
    assert parse_mount("type=bind,src=/a,dst=/b,bind-propagation=rslave").propagation == "rslave"


@pytest.mark.parametrize(
    "spec",
    [
        "type=bind,src=/a,dst=/b,bind-propagation=rw,exec",   # CVE-2024-9407: no option smuggling
        "type=bind,src=/a,dst=/b,bind-propagation=shared;rw",
        "type=nfs,src=x,dst=/b",
        "type=bind,dst=/b",
        "type=bind,src=rel,dst=/b",
        "type=volume,src=../x,dst=/b",
        "type=volume,src=v1",
        "type=tmpfs,src=x,dst=/t",
        "type=tmpfs,dst=/t,tmpfs-size=lots",
        "type=volume,src=v1,dst=/a,readonly=maybe",
        "type=volume,src=v1,dst=/a,colour=blue",
        "type=volume,dst=/a,dst=/b",
    ],
)
def test_bad_mount_flags(spec: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_mount(spec)


def test_tmpfs_flag() -> None:
    assert parse_tmpfs("/run:size=1g,mode=0755,noexec") == MountRequest(
        "tmpfs", "", "/run", options=("size=1g", "mode=0755", "noexec")
    )
    assert parse_tmpfs("/ro:ro").readonly
    for bad in ("/t:size=", "/t:uid=0", "/t:mode=999", "rel", "/t:rbind"):
        with pytest.raises(InvalidArgument):
            parse_tmpfs(bad)
