"""The client: version, namespaces, namespace views, leases, and status codes mapped onto the error tree."""

from __future__ import annotations

import grpc
import pytest

import ctrd
from ctrd import errors
from ctrd.api.services.events.v1 import events_pb2, events_pb2_grpc
from ctrd.client import LEASE_HEADER, NAMESPACE_HEADER
from ctrd.errors import (
    AlreadyExists,
    Conflict,
    Interrupted,
    InvalidArgument,
    NotFound,
    PouchRuntimeError,
    Timeout,
    Unavailable,
)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, Conflict),
        (grpc.StatusCode.ABORTED, Conflict),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.OUT_OF_RANGE, InvalidArgument),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, Timeout),
        (grpc.StatusCode.CANCELLED, Interrupted),
        (grpc.StatusCode.UNKNOWN, PouchRuntimeError),
        (grpc.StatusCode.UNIMPLEMENTED, PouchRuntimeError),
        (grpc.StatusCode.INTERNAL, PouchRuntimeError),
    ],
)
def test_status_code_maps_to_its_class(code: grpc.StatusCode, cls: type) -> None:
    error = errors.from_grpc(FakeRpcError(code, "thing x: boom"), "image get x")
    assert type(error) is cls
    assert error.message.startswith("image get x: ")


def test_containerd_suffix_is_trimmed() -> None:
    error = errors.from_grpc(FakeRpcError(grpc.StatusCode.NOT_FOUND, 'image "x": not found'), "image x")
    assert error.message == 'image x: image "x"'


def test_views_share_the_channel_and_carry_metadata() -> None:
    client = ctrd.Client("/nonexistent/containerd.sock")
    try:
        web = client.with_namespace("web")
        assert web is client.with_namespace("web")
        assert web.connection is client.connection
        assert web.metadata == ((NAMESPACE_HEADER, "web"),)
        leased = web.with_lease("l1")
        assert leased.metadata == ((NAMESPACE_HEADER, "web"), (LEASE_HEADER, "l1"))
        assert web.images is web.images
        assert client.connection.target == "unix:///nonexistent/containerd.sock"
    finally:
        client.close()


def test_unreachable_containerd_is_unavailable() -> None:
    client = ctrd.Client("/nonexistent/containerd.sock")
    try:
        with pytest.raises(Unavailable, match="containerd"):
            client.version(timeout=5)
    finally:
        client.close()


@pytest.mark.containerd
def test_version(ctrd_client: ctrd.Client) -> None:
    version = ctrd_client.version()
    assert version.version.startswith("1.")
    assert version.revision


@pytest.mark.containerd
def test_namespaces_lifecycle(ctrd_client: ctrd.Client, namespace: str) -> None:
    spaces = ctrd_client.namespaces
    assert namespace in [n.name for n in spaces.list()]
    labelled = spaces.set_labels(namespace, {"team": "web", "pouchsh.test": None})
    assert labelled.labels == {"team": "web"}
    with pytest.raises(AlreadyExists):
        spaces.create(namespace)
    other = f"{namespace}-x"
    spaces.create(other)
    spaces.delete(other)
    with pytest.raises(NotFound):
        spaces.get(other)
    with pytest.raises(NotFound):
        spaces.set_labels(other, {"a": "b"})


@pytest.mark.containerd
def test_namespace_with_content_cannot_be_deleted(ctrd_client: ctrd.Client, namespace: str) -> None:
    ctrd_client.with_namespace(namespace).content.write(b"x", labels={"containerd.io/gc.root": "t"})
    with pytest.raises(Conflict):
        ctrd_client.namespaces.delete(namespace)


@pytest.mark.containerd
def test_namespaced_call_without_namespace_is_a_conflict(ctrd_client: ctrd.Client) -> None:
    with pytest.raises(Conflict, match="namespace is required"):
        ctrd_client.images.list()


@pytest.mark.containerd
def test_live_status_codes(ns_client: ctrd.Client) -> None:
    with pytest.raises(NotFound):
        ns_client.images.get("docker.io/library/nothing:here")
    with pytest.raises(InvalidArgument):
        ns_client.content.info("sha256:nothex")
    # An event subscription never ends by itself: its deadline passing is DEADLINE_EXCEEDED.
    stub = ns_client.stub(events_pb2_grpc.EventsStub)
    with pytest.raises(Timeout):
        list(ns_client.stream(stub.Subscribe, events_pb2.SubscribeRequest(), "events", timeout=0.2))


@pytest.mark.containerd
def test_lease_is_deleted_on_exit_and_on_error(ns_client: ctrd.Client) -> None:
    with ns_client.lease() as leased:
        assert leased.lease_id in [lease.id for lease in ns_client.leases.list()]
        (lease,) = ns_client.leases.list()
        assert "containerd.io/gc.expire" in lease.labels
    assert ns_client.leases.list() == []
    with pytest.raises(KeyError), ns_client.lease():
        raise KeyError("boom")
    assert ns_client.leases.list() == []


@pytest.mark.containerd
def test_introspection_lists_the_plugins_we_need(ctrd_client: ctrd.Client) -> None:
    plugins = {(p.type, p.id): p for p in ctrd_client.introspection.plugins()}
    assert plugins[("io.containerd.snapshotter.v1", "overlayfs")].ok
    assert ("io.containerd.grpc.v1", "cri") not in plugins or not plugins[("io.containerd.grpc.v1", "cri")].ok


@pytest.mark.containerd
def test_cancelled_stream_ends_quietly(ns_client: ctrd.Client) -> None:
    import threading

    stub = ns_client.stub(events_pb2_grpc.EventsStub)
    stream = ns_client.stream(stub.Subscribe, events_pb2.SubscribeRequest(), "events")
    received: list[object] = []
    reader = threading.Thread(target=lambda: received.extend(stream))
    reader.start()
    ns_client.namespaces.set_labels(ns_client.namespace or "", {"poke": "1"})
    stream.cancel()
    reader.join(10)
    assert not reader.is_alive()


@pytest.mark.containerd
def test_future_results_and_errors(ns_client: ctrd.Client) -> None:
    from google.protobuf.empty_pb2 import Empty

    from ctrd.api.services.tasks.v1 import tasks_pb2, tasks_pb2_grpc
    from ctrd.api.services.version.v1 import version_pb2_grpc

    version = ns_client.future(ns_client.stub(version_pb2_grpc.VersionStub).Version, Empty(), "containerd version")
    assert version.result(timeout=10).version
    assert version.done() and version.exception() is None
    tasks = ns_client.stub(tasks_pb2_grpc.TasksStub)
    wait = ns_client.future(tasks.Wait, tasks_pb2.WaitRequest(container_id="nope"), "task wait nope")
    with pytest.raises(NotFound, match="task wait nope"):
        wait.result(timeout=10)
    assert isinstance(wait.exception(), NotFound)


def test_wrapped_context_errors_map_like_their_codes() -> None:
    late = FakeRpcError(grpc.StatusCode.UNKNOWN, "subscription error: context deadline exceeded")
    assert type(errors.from_grpc(late, "events")) is Timeout
    gone = FakeRpcError(grpc.StatusCode.UNKNOWN, "failed: context canceled")
    assert type(errors.from_grpc(gone, "events")) is Interrupted
