"""Fixtures for tests against a real containerd.

- ``containerd_address`` (session): a private containerd started through ctrd's supervisor (own root,
  state and socket in a short temp dir, CRI disabled) and stopped at the end; ``$POUCHSH_TEST_ADDRESS``
  points the suite at an already running containerd instead. Subprocess tests pass it on as
  ``CONTAINERD_ADDRESS``.
- ``ctrd_client`` (session): a ``ctrd.Client`` on it, not bound to a namespace.
- ``namespace`` (per test): a fresh containerd namespace name, emptied and removed afterwards;
  ``ns_client``: ``ctrd_client`` bound to it.
- ``busybox_image`` (per test): ``docker.io/library/busybox:latest`` imported and unpacked into the test's
  namespace (built once per session from /bin/busybox, see tests/support/images.py); returns the name.
- ``busybox_layout`` / ``two_layer_layout`` (session): the OCI layout directories.

Tests that need containerd are marked ``@pytest.mark.containerd``. When containerd cannot be started they
skip, except with ``$CI`` set, where they fail with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import build_busybox_layout, build_two_layer_layout


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the long variants (marked slow)")


#: Under ``pytest -n N --dist loadgroup`` (`make test PYTEST_JOBS=N`), tests that hold a host-wide
#: resource no other worker may share at the same time run as one unit on one worker: path prefix -> group.
#: Every other file is a unit of its own (``_distribute``), so a module's fixtures and its tests' order stay
#: as in a serial run. A fixed subnet, bridge name or host port used by tests in more than one file belongs
#: here; one used within a single file is safe already.
HOST_EXCLUSIVE = {
    "tests/pods/": "pods",  # each file's module fixture starts a CRI containerd on 10.233.77.0/24
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into scheduling scopes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "dist", "no") == "loadgroup":
        _distribute(config, items)
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long variant: run with --slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def _distribute(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each test without an ``xdist_group`` mark its file's group, or its HOST_EXCLUSIVE group."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        path = item.path.relative_to(config.rootpath).as_posix()
        group = next((g for prefix, g in HOST_EXCLUSIVE.items() if path.startswith(prefix)), None)
        item.add_marker(pytest.mark.xdist_group(group or path.removeprefix("tests/").removesuffix(".py")))


def _unavailable(reason: str) -> None:
    message = f"containerd is not available for the tests: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _containerd_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("containerd") is not None:
        request.getfixturevalue("containerd_address")


@pytest.fixture(scope="session")
def containerd_address() -> Iterator[str]:
    given = os.environ.get("POUCHSH_TEST_ADDRESS")
    if given:
        yield given
        return
    from ctrd.daemon import Embedded, start_embedded, stop_embedded
    from ctrd.errors import PouchError

    # Short: the socket path must fit in sockaddr_un (108 bytes).
    base = Path(tempfile.mkdtemp(prefix="pt-", dir="/tmp"))
    embedded = Embedded(data_root=base / "root", run_root=base / "run")
    try:
        start_embedded(embedded, timeout=60)
    except PouchError as err:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(str(err))
    try:
        yield str(embedded.socket)
    finally:
        stop_embedded(embedded)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _reclaim_test_bridges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CNI bridges of this run's data roots go with the run (their roots stay on disk for debugging)."""
    yield
    if os.geteuid() != 0 or not Path("/sys/class/net").is_dir():
        return
    from managers.hostnet import SUBNET_LOCK, reclaim_orphan_bridges
    from managers.store import FileLock

    with FileLock(SUBNET_LOCK):
        reclaim_orphan_bridges(under=tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def ctrd_client(containerd_address: str) -> Iterator[object]:
    import ctrd

    client = ctrd.Client(containerd_address)
    yield client
    client.close()


@pytest.fixture
def namespace(request: pytest.FixtureRequest, ctrd_client: object) -> Iterator[str]:
    from tests.support.cleanup import purge_namespace

    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-") or "t"
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    ctrd_client.namespaces.create(name, {"pouchsh.test": request.node.nodeid[:200]})  # type: ignore[attr-defined]
    yield name
    problems = purge_namespace(ctrd_client, name)  # type: ignore[arg-type]
    assert not problems, f"namespace {name} could not be cleaned up: {problems}"


@pytest.fixture
def ns_client(ctrd_client: object, namespace: str) -> object:
    return ctrd_client.with_namespace(namespace)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_busybox_layout(tmp_path_factory.mktemp("busybox-layout"))


@pytest.fixture(scope="session")
def two_layer_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_two_layer_layout(tmp_path_factory.mktemp("two-layer-layout"))


@pytest.fixture
def busybox_image(ns_client: object, busybox_layout: Path) -> str:
    from ctrd.imports import import_oci_layout

    (image,) = import_oci_layout(ns_client, busybox_layout)  # type: ignore[arg-type]
    return image.name
