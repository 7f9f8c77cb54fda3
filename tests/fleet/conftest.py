"""Fixtures of the fleet suite: three private containerd daemons, contexts on them, and a session.

- ``fleet`` (module): three containerds (``a``, ``b``, ``c``) started through ctrd's supervisor, as
  tests/conftest.py starts the suite's one, each with its own root, state and socket; stopped at the end.
- ``fleet_ns`` (per test): a fresh namespace with busybox in it on every daemon, purged afterwards.
- ``fleet_shell`` (per test): an in-process pouchsh session whose stored contexts (in a private config
  directory) are ``a``, ``b`` and ``c`` on that namespace; ``fleet_shell.run(text)`` returns stdout,
  ``fleet_shell.err`` what the last run printed on stderr.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NAMES = ("a", "b", "c")


@dataclass
class Fleet:
    base: Path
    daemons: dict[str, Any] = field(default_factory=dict)  # name -> ctrd.daemon.Embedded

    def address(self, name: str) -> str:
        return str(self.daemons[name].socket)

    def start(self, name: str) -> None:
        from ctrd.daemon import start_embedded

        start_embedded(self.daemons[name], timeout=60)

    def stop(self, name: str) -> None:
        from ctrd.daemon import stop_embedded

        stop_embedded(self.daemons[name])


@pytest.fixture(scope="module")
def fleet(containerd_address: str) -> Iterator[Fleet]:
    from ctrd.daemon import Embedded, stop_embedded

    base = Path(tempfile.mkdtemp(prefix="pf-", dir="/tmp"))  # short: sockets must fit sockaddr_un
    fleet = Fleet(base)
    try:
        for name in NAMES:
            fleet.daemons[name] = Embedded(data_root=base / name / "root", run_root=base / name / "run")
            fleet.start(name)
        yield fleet
    finally:
        for embedded in fleet.daemons.values():
            stop_embedded(embedded)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fleet_ns(fleet: Fleet, busybox_layout: Path) -> Iterator[str]:
    import ctrd
    from ctrd.imports import import_oci_layout
    from tests.support.cleanup import purge_namespace

    name = f"fleet-{uuid.uuid4().hex[:8]}"
    clients = {n: ctrd.Client(fleet.address(n)) for n in NAMES}
    try:
        for client in clients.values():
            client.namespaces.create(name, {})
            import_oci_layout(client.with_namespace(name), busybox_layout)
        yield name
    finally:
        problems = []
        for n, client in clients.items():
            fleet.start(n)  # a test may have stopped one
            problems += purge_namespace(client, name)
            client.close()
        assert not problems, problems


class FleetShell:
    def __init__(self, fleet: Fleet, namespace: str, home: Path, default_address: str) -> None:
        from managers import Managers
        from managers.contexts import ContextStore
        from pouchsh.scope import Runtime
        from pouchsh.session import Session

        self.contexts = ContextStore(home / "config" / "contexts")
        for n in NAMES:
            self.contexts.create(n, fleet.address(n), namespace=namespace)
        root, run = home / "root", home / "run"
        self.facade = Managers(address=default_address, namespace=namespace, root=root, run_root=run,
                               contexts_dir=self.contexts.directory)
        self.out, self.errout = io.BytesIO(), io.BytesIO()
        env = {**os.environ, "POUCHSH_ROOT": str(root), "POUCHSH_RUN": str(run)}
        self.runtime = Runtime(managers_factory=lambda: self.facade, stdout=self.out, stderr=self.errout,
                               stdin=io.BytesIO(), env=env, cwd=str(home))
        self.session = Session(self.runtime)
        self.err = ""

    def run(self, text: str) -> str:
        for stream in (self.out, self.errout):
            stream.seek(0)
            stream.truncate()
        try:
            self.session.execute(self.session.compile(text, "fleet.pouch"))
        finally:
            self.err = self.errout.getvalue().decode()
        return self.out.getvalue().decode()

    def value(self, text: str) -> Any:
        """The value of one expression (run with --json semantics: parsed back from JSON lines)."""
        import json

        self.runtime.json_output = True
        try:
            out = self.run(text)
        finally:
            self.runtime.json_output = False
        return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def fleet_shell(fleet: Fleet, fleet_ns: str, tmp_path: Path, containerd_address: str) -> Iterator[FleetShell]:
    shell = FleetShell(fleet, fleet_ns, tmp_path, containerd_address)
    try:
        yield shell
    finally:
        shell.facade.close()


@pytest.fixture
def local_shell(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path) -> Iterator[Any]:
    """The reliability suite's in-process shell on the suite's containerd; the lxcfs it started (if any) is stopped
    and its mount gone afterwards."""
    from managers import Managers
    from managers.lxcfs import stop
    from tests.reliability.conftest import Shell, detach_all

    roots = (tmp_path / "root", tmp_path / "run")
    for d in roots:
        d.mkdir()
    facade = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    try:
        yield Shell(facade, roots)
    finally:
        detach_all(facade)
        from tests.support.cleanup import purge_namespace

        purge_namespace(facade.client, namespace)  # the containers go before their lxcfs
        stop(roots[1])
        facade.close()
