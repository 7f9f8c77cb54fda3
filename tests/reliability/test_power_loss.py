"""What a power loss may leave of the files pouchsh writes without fsync (issue 17: the name store and the
container intents, managers/names.py and managers/intents.py), and that the next invocation copes.

Within one boot a kill -9 loses nothing that was written (the page cache is the kernel's), which the rest
of this directory attacks. After a power loss a file renamed or created in the last seconds may be
missing or empty while containerd, which syncs its database, kept the container. Each test writes such a
state by hand, with the name store's boot mark set to another boot, and checks that nothing is lost
silently: a name stays taken by its container, a dead reservation is given back, an intent that cannot
be read is reported and set aside.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.containerd

Cli = Callable[..., subprocess.CompletedProcess[bytes]]


def _names(roots: tuple[Path, Path], namespace: str) -> Path:
    return roots[0] / "names" / namespace


def _container_id(cli: Cli, name: str) -> str:
    done = cli("-c", f"inspect {name} | get id")
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def _after_a_reboot(names: Path) -> None:
    """The boot mark as a power loss leaves it: written in another boot."""
    (names / ".boot").write_text("an-earlier-boot")


@pytest.mark.parametrize("left", ["empty", "missing"])
def test_a_name_whose_file_a_power_loss_lost_stays_taken(cli: Cli, roots: tuple[Path, Path], namespace: str,
                                                         left: str) -> None:
    assert cli("-c", "create --name web busybox true").returncode == 0
    cid = _container_id(cli, "web")
    names = _names(roots, namespace)
    assert (names / "web").read_text() == cid and (names / ".boot").exists()
    if left == "empty":
        (names / "web").write_text("")
    else:
        (names / "web").unlink()
    _after_a_reboot(names)

    again = cli("-c", "create --name web busybox true")
    assert again.returncode == 125 and b"error[already-exists]" in again.stderr, again.stderr
    assert (names / "web").read_text() == cid  # rebuilt from containerd's label
    assert (names / ".boot").read_text() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    listed = cli("-c", "ps -a | get name | to json")
    assert json.loads(listed.stdout) == ["web"], listed.stderr


def test_a_name_whose_container_a_power_loss_never_made_is_given_back(cli: Cli, roots: tuple[Path, Path],
                                                                      namespace: str) -> None:
    assert cli("-c", "create --name first busybox true").returncode == 0  # makes the directory and mark
    names = _names(roots, namespace)
    (names / "ghost").write_text("")  # reserved, then the power went before containerd had the record
    (names / "other").write_text("ab" * 32)  # a record that was never made
    _after_a_reboot(names)

    for name in ("ghost", "other"):
        made = cli("-c", f"create --name {name} busybox true")
        assert made.returncode == 0, made.stderr
        assert (names / name).read_text() == _container_id(cli, name)


def test_the_rebuild_happens_once_a_boot(cli: Cli, roots: tuple[Path, Path], namespace: str) -> None:
    """Within a boot the files alone decide (no Containers.List per create): a file removed by hand in
    this boot is not put back, because only a power loss can lose one."""
    assert cli("-c", "create --name web busybox true").returncode == 0
    names = _names(roots, namespace)
    (names / "web").unlink()
    assert cli("-c", "create --name other busybox true").returncode == 0
    assert not (names / "web").exists()


def _intent_before_this_boot(roots: tuple[Path, Path], name: str, content: bytes) -> Path:
    directory = roots[0] / "intents"
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / name
    path.write_bytes(content)
    with open("/proc/stat", "rb") as f:
        boot = next(float(line.split()[1]) for line in f if line.startswith(b"btime "))
    os.utime(path, (boot - 60, boot - 60))
    return path


@pytest.mark.parametrize("content", [b"", b'{"kind": "container.create", "owner": "h:12'])
def test_an_intent_a_power_loss_left_unreadable_is_reported_and_set_aside(
        cli: Cli, roots: tuple[Path, Path], content: bytes) -> None:
    path = _intent_before_this_boot(roots, "4242-17-0123456789ab.json", content)

    first = cli("-c", "ps -a")
    assert first.returncode == 0, first.stderr
    assert b"intent 4242-17-0123456789ab.json was left unreadable by a power loss" in first.stderr
    assert b"system prune" in first.stderr
    assert not path.exists()
    assert (roots[0] / "intents-unreadable" / path.name).read_bytes() == content

    second = cli("-c", "ps -a")
    assert second.returncode == 0 and b"unreadable" not in second.stderr, second.stderr


def test_an_unreadable_intent_written_in_this_boot_is_left_alone(cli: Cli, roots: tuple[Path, Path]) -> None:
    """Within a boot an intent is read whole or not at all: one that does not parse was not cut by a power
    loss, so it is not moved (nor acted on)."""
    directory = roots[0] / "intents"
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / "4243-17-0123456789ab.json"
    path.write_bytes(b"{")
    done = cli("-c", "ps -a")
    assert done.returncode == 0 and b"unreadable" not in done.stderr, done.stderr
    assert path.exists()


def test_which_intents_are_synced() -> None:
    """A container's create or rm that names no volume is not synced; one naming volumes, and every other
    kind, is (managers/intents.py says why)."""
    from managers.intents import _durable

    assert not _durable({"kind": "container.create", "name": "web"})
    assert not _durable({"kind": "container.rm", "volumes": []})
    assert _durable({"kind": "container.create", "volumes": ["data"]})
    assert _durable({"kind": "container.rm", "volumes": ["data"]})
    for kind in ("network.attach", "network.create", "volume.create", "transaction.run", "host.write"):
        assert _durable({"kind": kind})
