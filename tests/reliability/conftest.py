"""Fixtures of the reliability suite.

- ``roots``: a fresh pouchsh data root and run root (``$POUCHSH_ROOT``, ``$POUCHSH_RUN``) under tmp.
- ``shell``: an in-process pouchsh session (the REPL's engine) on the test's namespace with busybox:
  ``shell.run(text)`` runs a source and returns what it printed; ``shell.kind(text)`` runs it and returns
  the ``error[KIND]`` it failed with (fails the test if it succeeded or raised a non-PouchError).
- ``cli``: ``cli(*args, input=b"")`` runs ``python -m pouchsh`` against the same containerd, namespace
  and roots in a subprocess and returns the CompletedProcess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, run = tmp_path / "root", tmp_path / "run"
    root.mkdir()
    run.mkdir()
    return root, run


class Shell:
    def __init__(self, facade: Any, roots: tuple[Path, Path]) -> None:
        from pouchsh.scope import Runtime
        from pouchsh.session import Session

        self.facade = facade
        self.out = io.BytesIO()
        env = {**os.environ, "POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1])}
        runtime = Runtime(managers_factory=lambda: facade, stdout=self.out, stderr=self.out, stdin=io.BytesIO(),
                          env=env, cwd=str(roots[0]))
        self.session = Session(runtime)

    def run(self, text: str) -> str:
        self.out.seek(0)
        self.out.truncate()
        self.session.execute(self.session.compile(text, "test.pouch"))
        return self.out.getvalue().decode()

    def kind(self, text: str) -> str:
        from ctrd.errors import PouchError

        try:
            self.run(text)
        except PouchError as err:
            return err.kind
        raise AssertionError(f"{text!r} succeeded: {self.out.getvalue()[-500:]!r}")


@pytest.fixture
def shell(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path]) -> Iterator[Shell]:
    from managers import Managers

    facade = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    try:
        yield Shell(facade, roots)
    finally:
        detach_all(facade)
        facade.close()


def detach_all(facade: Any) -> None:
    """Remove what a test left through pouchsh before the namespace is purged: its networks detached,
    its directories gone, and so the log collector's streams of it let go (a container the purge deleted
    behind pouchsh's back kept the collector serving its FIFOs). What cannot be removed is detached."""
    from ctrd.errors import PouchError

    ids = [c.id for c in facade.ctrd.containers.list()]
    try:
        if ids:
            facade.containers.remove(ids, force=True, volumes=True)
        return
    except (PouchError, OSError):
        pass
    for cid in ids:
        try:
            facade.networks.detach(cid)
        except (PouchError, OSError):
            pass


def pouchsh_env(roots: tuple[Path, Path], **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"POUCHSH_ROOT": str(roots[0]), "POUCHSH_RUN": str(roots[1]), **extra})
    env.pop("CONTAINERD_NAMESPACE", None)
    return env


@pytest.fixture
def cli(containerd_address: str, namespace: str, busybox_image: str, roots: tuple[Path, Path]) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    def run(*args: str, input: bytes = b"", timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, *args]
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=pouchsh_env(roots), cwd=REPO, check=False)

    return run
