"""Managers on the test namespace with a private data root, and the clean-up that leaves the host as it
was: containers removed (which detaches them), leftover attachments detached, networks and their bridges
removed. Used by the volume, network and system tests."""

from __future__ import annotations

import contextlib
import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import PouchError


def make_managers(address: str, namespace: str, root: Path) -> Any:
    from managers import Managers

    return Managers(address=address, namespace=namespace, root=root / "root", run_root=root / "run")


def cleanup(m: Any) -> list[str]:
    """Remove what the test made; returns what could not be removed (the test fails on it)."""
    from managers import deferred

    deferred.settle()  # as Managers.close does: what --rm runs left to a thread
    problems: list[str] = []
    if "containers" in m.__dict__ or (m.root / "state").exists():
        try:
            ids = [c.id for c in m.ctrd.containers.list()]
            if ids:
                m.containers.remove(ids, force=True, volumes=True)
        except PouchError as e:
            problems.append(f"containers: {e}")
    networks = m.networks
    for key, entry in networks.store.read().get("attachments", {}).items():
        problems.append(f"attachment left behind: {key}")
        with contextlib.suppress(PouchError):
            m.namespace = entry["namespace"]
            networks.detach(entry["id"])
    pinned = m.run_root / "netns"
    for path in sorted(pinned.glob("*/*")) if pinned.is_dir() else []:
        if len(path.name) == 64:
            problems.append(f"network namespace left pinned: {path}")
            with contextlib.suppress(PouchError):
                from managers import netns

                netns.unpin(path)
    names = [n["name"] for n in networks.list() if n["driver"] == "bridge"]
    if names:
        networks.remove(names, force=True)
    for name in names:
        if Path("/sys/class/net", name).exists():
            problems.append(f"bridge left behind: {name}")
    m.close()
    return problems


def unique(prefix: str = "pst") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def netns() -> Iterator[str]:
    """A named network namespace for the test (``ip netns add``), removed afterwards; yields its path."""
    name = unique("pstns")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield f"/var/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def stdio() -> Any:
    from managers.console import Stdio

    return Stdio(stdin=None, stdout=io.BytesIO(), stderr=io.BytesIO())


def run(m: Any, image: str, *args: str, **flags: Any) -> tuple[int, str]:
    """``run`` in the foreground: (exit status, stdout + stderr)."""
    from managers.options import CreateOptions

    opts = CreateOptions.parse(image, list(args), **flags)
    streams = stdio()
    code = m.containers.run(opts, detach=False, stdio=streams)
    return code, streams.stdout.getvalue().decode() + streams.stderr.getvalue().decode()


def run_detached(m: Any, image: str, *args: str, **flags: Any) -> dict[str, Any]:
    from managers.options import CreateOptions

    return m.containers.run(CreateOptions.parse(image, list(args), **flags), detach=True)


@pytest.fixture
def mgr(containerd_address: str, namespace: str, tmp_path: Path) -> Iterator[Any]:
    """The managers facade on the test's namespace, with its own data root under tmp_path."""
    m = make_managers(containerd_address, namespace, tmp_path)
    yield m
    problems = cleanup(m)
    assert not problems, problems
