"""The volume, network and system commands as the evaluator calls them (declaration → manager)."""

from __future__ import annotations

from typing import Any

import pytest

from ctrd.errors import InvalidArgument
from pouchsh.values import Size, Stream
from tests.builtins.builtin_ctx import FakeContext, invoke

pytestmark = pytest.mark.containerd


def ctx_for(mgr: Any, input: Any = None) -> FakeContext:
    ctx = FakeContext(input) if input is not None else FakeContext()
    ctx.managers = mgr
    return ctx


def test_volume_commands(mgr: Any) -> None:
    made = invoke("volume create", "data", ctx=ctx_for(mgr), label=["app=shop"])
    assert made["labels"] == {"app": "shop"}
    invoke("volume create", "logs", ctx=ctx_for(mgr))
    assert invoke("volume ls", ctx=ctx_for(mgr), quiet=True) == ["data", "logs"]
    table = invoke("volume ls", ctx=ctx_for(mgr), filter=["label=app"])
    assert [r["name"] for r in table] == ["data"]
    assert invoke("volume rm", ctx=ctx_for(mgr, table)) == ["data"]  # piped records
    with pytest.raises(InvalidArgument):
        invoke("volume create", "x", ctx=ctx_for(mgr), opt=["size"])
    result = invoke("volume prune", ctx=ctx_for(mgr), all=True)
    assert result["volumes_deleted"] == ["logs"] and isinstance(result["space_reclaimed"], Size)


def test_network_commands(mgr: Any) -> None:
    from tests.networks.fixtures import unique
    from tests.networks.test_networks import free_subnet

    subnet = free_subnet(mgr)
    made = invoke("network create", "shop", ctx=ctx_for(mgr), subnet=subnet, opt=[f"com.docker.network.bridge.name={unique()}"])
    assert made["subnet"] == subnet
    listed = invoke("network ls", ctx=ctx_for(mgr))
    assert [n["name"] for n in listed] == ["shop", "host", "none"]
    # -q gives docker's short ids, --no-trunc the full ones, and an id names the network
    assert invoke("network ls", ctx=ctx_for(mgr), quiet=True) == [n["id"][:12] for n in listed]
    assert invoke("network ls", ctx=ctx_for(mgr), quiet=True, no_trunc=True) == [n["id"] for n in listed]
    assert invoke("network inspect", made["id"][:12], ctx=ctx_for(mgr))["name"] == "shop"
    assert invoke("network inspect", "shop", ctx=ctx_for(mgr))["id"] == made["id"]
    assert invoke("network rm", "shop", ctx=ctx_for(mgr)) == ["shop"]


def test_system_commands(mgr: Any) -> None:
    info = invoke("info", ctx=ctx_for(mgr))
    assert isinstance(info["memory"], Size) and info["namespace"] == mgr.namespace
    assert [r["type"] for r in invoke("system df", ctx=ctx_for(mgr))] == ["images", "containers", "volumes"]
    stream = invoke("events", ctx=ctx_for(mgr), until="50ms")
    assert isinstance(stream, Stream)
    assert list(stream) == []  # nothing happened; --until ended the stream
    other = f"{mgr.namespace}-u"
    invoke("namespace create", other, ctx=ctx_for(mgr))
    invoke("namespace use", other, ctx=ctx_for(mgr))
    assert mgr.namespace == other
    assert other in invoke("namespace ls", ctx=ctx_for(mgr), quiet=True)
    ns = [r for r in invoke("namespace ls", ctx=ctx_for(mgr)) if r["current"]]
    assert [r["name"] for r in ns] == [other]
    invoke("namespace use", other[:-2], ctx=ctx_for(mgr))
    assert invoke("namespace rm", other, ctx=ctx_for(mgr)) == [other]


def test_events_in_a_pipeline_close_the_subscription(mgr: Any, busybox_image: str) -> None:
    from tests.networks.fixtures import run

    stream = invoke("events", ctx=ctx_for(mgr), filter=["action=die"])
    run(mgr, busybox_image, "true", rm=True)
    run(mgr, busybox_image, "false", rm=True)
    first = [next(stream), next(stream)]
    stream.close()
    assert [r["attributes"]["exit_code"] for r in first] == ["0", "1"]
    with pytest.raises(StopIteration):
        next(stream)
