"""Every gRPC call is bounded: the class table, its scaling, the keepalive, how a passed deadline reads,
and a recorded session in which every call that pouchsh made carried its bound."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import ctrd.api.services
from ctrd import deadlines, errors
from ctrd.deadlines import METHODS, deadline_for, deadline_of, keepalive_options
from ctrd.errors import Timeout, Unavailable

#: the calls that may last for ever, and only them: a watch ends with what it watches
UNBOUNDED = {"Events/Subscribe", "Tasks/Wait"}


def all_rpcs() -> dict[str, Any]:
    """``Service/Method`` → its multicallable, for every RPC of every stub ctrd ships."""
    channel = grpc.insecure_channel("unix:///nonexistent/for-stubs.sock")  # never dialled: no call is made
    found: dict[str, Any] = {}
    for info in pkgutil.walk_packages(ctrd.api.services.__path__, "ctrd.api.services."):
        if not info.name.endswith("_pb2_grpc"):
            continue
        module = importlib.import_module(info.name)
        for name in dir(module):
            if name.endswith("Stub"):
                stub = getattr(module, name)(channel)
                for attr, method in vars(stub).items():
                    found[f"{name.removesuffix('Stub')}/{attr}"] = method
    channel.close()
    return found


def test_every_rpc_has_a_bound_but_the_watches() -> None:
    rpcs = all_rpcs()
    assert len(rpcs) > 60
    for name, method in rpcs.items():
        timeout = deadline_of(method).timeout()
        if name in UNBOUNDED:
            assert timeout is None, name
        else:
            assert timeout is not None and 0 < timeout <= 900, name
    assert set(METHODS) <= set(rpcs), "the table names an RPC that does not exist"


def test_lookups_are_short_and_starts_generous() -> None:
    assert deadline_for("/containerd.services.containers.v1.Containers/List").seconds == 5
    assert deadline_for("/containerd.services.version.v1.Version/Version").seconds == 5
    assert deadline_for("/containerd.services.tasks.v1.Tasks/Create").seconds == 120
    assert deadline_for("Diff/Apply").seconds == 900
    assert deadline_for("Some/NewMethod").seconds == 5  # not listed: a lookup, never unbounded


def test_scale_multiplies_every_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", "0.2")
    assert deadline_for("Images/List").timeout() == pytest.approx(1.0)
    assert deadline_for("Tasks/Start").timeout() == pytest.approx(24.0)
    assert dict(keepalive_options())["grpc.keepalive_timeout_ms"] == 4000
    for nonsense in ("0", "-1", "inf", "nan", "fast"):
        monkeypatch.setenv("POUCHSH_TIMEOUT_SCALE", nonsense)
        assert deadlines.scale() == 1.0, nonsense


def test_keepalive_stays_inside_containerds_ping_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POUCHSH_KEEPALIVE", raising=False)
    monkeypatch.delenv("POUCHSH_TIMEOUT_SCALE", raising=False)
    options = dict(keepalive_options())
    # grpc-go's default enforcement (containerd sets none): pings closer than 5 minutes are strikes.
    assert options["grpc.keepalive_time_ms"] > 300_000
    assert options["grpc.keepalive_permit_without_calls"] == 0  # an idle connection's ping is a strike too
    assert options["grpc.keepalive_timeout_ms"] == options["grpc.http2.ping_timeout_ms"] == 20_000
    assert options["grpc.http2.max_pings_without_data"] == 0
    monkeypatch.setenv("POUCHSH_KEEPALIVE", "2")
    assert dict(keepalive_options())["grpc.keepalive_time_ms"] == 2000


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def test_a_passed_deadline_reads_by_its_class() -> None:
    late = FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    silent = errors.from_grpc(late, "container list", address="unix:///run/c.sock", silence=1.0000001)
    assert type(silent) is Unavailable
    assert silent.message == "container list: containerd at /run/c.sock is not answering (no reply within 1s)"
    slow = errors.from_grpc(late, "task start web", address="/run/c.sock")
    assert type(slow) is Timeout
    refused = FakeRpcError(
        grpc.StatusCode.UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: unix:/run/c.sock: "
        "connection attempt timed out before receiving SETTINGS frame",
    )
    assert errors.from_grpc(refused, "image list", address="/run/c.sock").message == (
        "image list: containerd at /run/c.sock is not answering "
        "(connection attempt timed out before receiving SETTINGS frame)"
    )


class Recorder(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Notes the method, shape and gRPC timeout of every call that goes through the channel."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float | None]] = []

    def _note(self, shape: str, details: grpc.ClientCallDetails, go: Callable[..., Any], request: Any) -> Any:
        self.calls.append((details.method, shape, details.timeout))
        return go(details, request)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._note("unary", details, continuation, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._note("stream", details, continuation, request)

    def intercept_stream_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._note("unary", details, continuation, request)

    def intercept_stream_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._note("stream", details, continuation, request)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every channel made from now on goes through a Recorder."""
    recorder = Recorder()
    plain = grpc.insecure_channel
    monkeypatch.setattr(
        grpc, "insecure_channel", lambda *a, **k: grpc.intercept_channel(plain(*a, **k), recorder)
    )
    yield recorder


@pytest.mark.containerd
def test_every_call_of_a_session_is_bounded(
    containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path, recorded: Recorder
) -> None:
    from managers import Managers
    from tests.reliability.conftest import Shell, detach_all

    roots = (tmp_path / "root", tmp_path / "run")
    for path in roots:
        path.mkdir()
    facade = Managers(address=containerd_address, namespace=namespace, root=roots[0], run_root=roots[1])
    shell = Shell(facade, roots)
    try:
        shell.run("run -d --network none --name dl busybox sleep 60; ps; images; inspect dl; exec dl true")
        shell.run("stop -t 1 dl; rm dl; volume ls; network ls; image inspect busybox; system df")
    finally:
        detach_all(facade)
        facade.close()
    methods = {method for method, _shape, _timeout in recorded.calls}
    assert {"Containers/Create", "Tasks/Create", "Tasks/Start", "Tasks/Kill", "Images/List"} <= {
        m.rpartition(".")[2] for m in methods
    }
    for method, shape, timeout in recorded.calls:
        name = method.rpartition(".")[2]
        if name in UNBOUNDED:
            continue
        if shape == "unary":
            assert timeout is not None and timeout > 0, method
        else:  # a stream's bound is per reply, kept by ctrd.connection's watchdog, unless the caller set one
            assert timeout is not None or deadline_for(method).timeout() is not None, method


@pytest.mark.containerd
def test_a_done_callback_may_call_containerd(ns_client: Any) -> None:
    """grpc completes every call of a channel on one thread; a callback run there that calls again
    (the container manager's exec clean-up does) must not wait on the thread that would answer it."""
    import threading

    from google.protobuf.empty_pb2 import Empty

    from ctrd.api.services.version.v1 import version_pb2_grpc

    stub = ns_client.stub(version_pb2_grpc.VersionStub)
    answers: list[str] = []
    called = threading.Event()

    def again(_pending: Any) -> None:
        answers.append(ns_client.version().version)
        called.set()

    ns_client.future(stub.Version, Empty(), "containerd version").add_done_callback(again)
    assert called.wait(30) and answers
    assert ns_client.containers.list() == []
