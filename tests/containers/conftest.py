"""Fixtures for the container tests: a ``Managers`` facade on the test's namespace with its own data root.

``mgr`` is that facade with busybox imported; ``pouchsh(...)`` runs ``python -m pouchsh -c`` in a
subprocess against the same containerd, namespace and data root.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, run = tmp_path / "root", tmp_path / "run"
    root.mkdir()
    run.mkdir()
    return root, run


@pytest.fixture
def mgr(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path]) -> Iterator[Any]:
    from managers import Managers

    root, run = roots
    facade = Managers(address=containerd_address, namespace=namespace, root=root, run_root=run)
    yield facade
    try:
        _remove_all(facade)
    finally:
        facade.close()


def _remove_all(facade: Any) -> None:
    """Remove what a test left with the manager itself (snapshot before record, network detached, volumes
    released), rather than leaving containers for the namespace purge and containerd's GC to race over."""
    for c in facade.ctrd.containers.list():
        facade.containers.lifecycle.destroy(c, True)


def new_facade(address: str, namespace: str, roots: tuple[Path, Path]) -> Any:
    from managers import Managers

    return Managers(address=address, namespace=namespace, root=roots[0], run_root=roots[1])


@pytest.fixture
def invocation(containerd_address: str, namespace: str, roots: tuple[Path, Path]) -> Any:
    """``invocation(script, extra)``: the argv and environment of ``pouchsh [EXTRA] -c SCRIPT`` against the
    test containerd and data roots."""

    def make(script: str, extra: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1])}
        env.pop("CONTAINERD_NAMESPACE", None)
        argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace,
                *(extra or []), "-c", script]
        return argv, env

    return make


@contextlib.contextmanager
def spawned(invocation: Any, kind: Callable[[list[str], dict[str, str]], Any]) -> Iterator[Callable[[str], Any]]:
    """``start(script)``: a ``kind(argv, env)`` around ``pouchsh -c SCRIPT``; each is closed on the way out."""
    made: list[Any] = []

    def start(script: str) -> Any:
        made.append(kind(*invocation(script)))
        return made[-1]

    try:
        yield start
    finally:
        for m in made:
            m.close()


@pytest.fixture
def pouchsh(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path], invocation: Any) -> Iterator[Any]:
    """Run ``pouchsh -c SCRIPT`` against the test containerd; returns the CompletedProcess."""

    def run(script: str, *, input: bytes | None = None, timeout: float = 60, extra: list[str] | None = None) -> subprocess.CompletedProcess[bytes]:
        cmd, env = invocation(script, extra)
        return subprocess.run(cmd, input=input or b"", capture_output=True, timeout=timeout, env=env, check=False)

    yield run
    facade = new_facade(containerd_address, namespace, roots)
    try:
        _remove_all(facade)
    finally:
        facade.close()
