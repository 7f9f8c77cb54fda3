"""docker's copy-up (bug 5): a new, empty volume mounted over a directory of the image gets that
directory's content, owner and mode, so an image running as a non-root user can write to its volume;
``:nocopy`` opts out. A hostile image cannot make the copy leave its root (links are copied as links, the
mount path resolves inside the root), and a copy killed half-way is done again by the next container."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import REPO, pouchsh_env

pytestmark = pytest.mark.containerd

UID, GID = 4321, 8765


def _layer(entries: list[tuple[str, str, Any, int, int]]) -> bytes:
    """A tar of (kind, path, payload, uid, gid): dir (mode), file ((bytes, mode)), link (target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, path, payload, uid, gid in entries:
            info = tarfile.TarInfo(path)
            info.uid, info.gid, info.mtime = uid, gid, 1_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, payload
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, payload, 0o777
                tar.addfile(info)
            else:
                data, info.mode = payload
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _image(ns_client: Any, tmp_path: Path, entries: list[tuple[str, str, Any, int, int]], user: str = "") -> str:
    from ctrd.imports import import_oci_layout
    from tests.support.images import build_layout, busybox_layer

    name = f"docker.io/library/copyup-{uuid.uuid4().hex[:8]}:1"
    config = {"User": user} if user else None
    layout = build_layout(tmp_path / f"layout-{uuid.uuid4().hex[:6]}", [busybox_layer(), _layer(entries)],
                          name=name, config=config)
    (image,) = import_oci_layout(ns_client, layout)
    return str(image.name)


@pytest.fixture
def app_image(ns_client: Any, tmp_path: Path) -> tuple[str, Path]:
    """An image running as 4321 whose /data (4321:8765, 0750) holds a file, a directory and links, one
    of them to a host directory with a secret. Returns (image, that host directory)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    entries = [
        ("dir", "data", 0o750, UID, GID),
        ("file", "data/seed.txt", (b"from the image\n", 0o640), UID, GID),
        ("dir", "data/sub", 0o700, UID, GID),
        ("file", "data/sub/deep", (b"deep\n", 0o600), 0, 0),
        ("link", "data/abs", "/etc/passwd", UID, GID),
        ("link", "data/host", str(outside / "secret"), UID, GID),
        ("link", "data/up", "../../../../../..", UID, GID),
    ]
    return _image(ns_client, tmp_path, entries, user=str(UID)), outside


def _data(shell: Any, volume: str) -> Path:
    return Path(shell.facade.volumes.inspect(volume)["mountpoint"])


def test_a_new_volume_gets_the_images_content_owner_and_mode(shell: Any, app_image: tuple[str, Path]) -> None:
    image, outside = app_image
    # the image's user writes into its own volume (it could not into root's empty 0755 directory)
    shell.run(f"run --rm --network none -v appdata:/data {image} sh -c 'echo written > /data/mine && cat /data/seed.txt'")
    data = _data(shell, "appdata")
    st = os.stat(data)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o750)
    assert (data / "seed.txt").read_text() == "from the image\n"
    assert (data / "mine").read_text() == "written\n"
    f = os.stat(data / "seed.txt")
    assert (f.st_uid, f.st_gid, stat.S_IMODE(f.st_mode)) == (UID, GID, 0o640)
    deep = os.stat(data / "sub" / "deep")
    assert (deep.st_uid, stat.S_IMODE(deep.st_mode)) == (0, 0o600)
    assert stat.S_IMODE(os.stat(data / "sub").st_mode) == 0o700
    # links are copied as links, with their text: nothing of the host was read
    assert os.readlink(data / "abs") == "/etc/passwd"
    assert os.readlink(data / "host") == str(outside / "secret")
    assert os.readlink(data / "up") == "../../../../../.."
    assert os.lstat(data / "host").st_uid == UID
    assert sorted(p.name for p in data.parent.iterdir()) == ["_data"]  # no half-made copy left
    # a volume that is not empty is not seeded again: what a container removed stays removed
    shell.run(f"run --rm --network none -v appdata:/data {image} rm /data/seed.txt")
    shell.run(f"run --rm --network none -v appdata:/data {image} true")
    assert not (data / "seed.txt").exists() and (data / "mine").exists()


def test_nocopy_and_paths_the_image_lacks_stay_empty(shell: Any, app_image: tuple[str, Path]) -> None:
    image, _ = app_image
    shell.run(f"run --rm --network none -u 0 -v plain:/data:nocopy {image} true")
    assert os.listdir(_data(shell, "plain")) == []
    shell.run(f"run --rm --network none -u 0 --mount type=volume,src=plain2,dst=/data,volume-nocopy {image} true")
    assert os.listdir(_data(shell, "plain2")) == []
    shell.run(f"run --rm --network none -u 0 -v other:/not/in/image {image} true")
    assert os.listdir(_data(shell, "other")) == []
    # an anonymous volume (-v /path) is seeded too
    out = shell.run(f"run --rm --network none -v /data {image} cat /data/seed.txt")
    assert "from the image" in out


def test_a_mount_path_through_a_link_stays_in_the_image(shell: Any, ns_client: Any, tmp_path: Path) -> None:
    """/data is a link to the host's directory (absolute, and by ``..``): resolved inside the image's
    root, where it names nothing, so nothing is copied and the host directory is not read."""
    outside = tmp_path / "hostdir"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    for target in (str(outside), "../../../../../../../.." + str(outside)):
        image = _image(ns_client, tmp_path, [("link", "data", target, 0, 0), ("dir", "etc/real", 0o755, 0, 0),
                                              ("link", "etc/viaroot", "/../../etc/real", 0, 0)])
        vol = f"linkvol{uuid.uuid4().hex[:6]}"
        shell.run(f"run --rm --network none -v {vol}:/data {image} true")
        assert os.listdir(_data(shell, vol)) == []
    # a link resolving inside the image is followed there (docker's rule): /etc/viaroot names /etc/real
    vol = f"viaroot{uuid.uuid4().hex[:6]}"
    shell.run(f"run --rm --network none -v {vol}:/etc/viaroot {image} true")
    assert stat.S_IMODE(os.stat(_data(shell, vol)).st_mode) == 0o755


def test_a_copy_beyond_the_bounds_fails_with_nothing_made(shell: Any, app_image: tuple[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    image, _ = app_image
    monkeypatch.setenv("POUCHSH_CP_MAX_BYTES", "4")  # the image's 15-byte file is past it
    assert shell.kind(f"run -d --name big --network none -v bounded:/data {image} sleep 300") == "invalid-argument"
    assert shell.facade.ctrd.containers.list() == []
    assert not shell.facade.volumes.exists("bounded") or os.listdir(_data(shell, "bounded")) == []


def test_a_copy_killed_half_way_is_done_again(shell: Any, app_image: tuple[str, Path], containerd_address: str,
                                              namespace: str, roots: tuple[Path, Path]) -> None:
    image, _ = app_image
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, "-c",
            f"run -d --name killed --network none -v killvol:/data {image} sleep 300"]
    env = pouchsh_env(roots, POUCHSH_FAULT="volume.copyup.copied")
    done = subprocess.run(argv, capture_output=True, timeout=120, env=env, cwd=REPO, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    data = _data(shell, "killvol")
    assert os.listdir(data) == []  # the volume was never half full: the copy is beside it
    assert any(p.name.startswith("_data.copyup-") for p in data.parent.iterdir())  # the dead copy
    shell.run(f"run --rm --network none -v killvol:/data {image} cat /data/seed.txt")
    assert (data / "seed.txt").read_text() == "from the image\n"
    assert sorted(p.name for p in data.parent.iterdir()) == ["_data"]
