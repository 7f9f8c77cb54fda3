"""Network and volume events (published by the managers, so the shell's `events` and pouchd's `/events`
both see them, whichever side made the change) in docker's shapes, and the `label`, `type`, `network`
and `volume` filters of `/events`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.pouchd.conftest import Daemon, UnixHTTPConnection

pytestmark = pytest.mark.containerd


@contextmanager
def event_stream(daemon: Daemon, filters: dict[str, list[str]]) -> Iterator[Any]:
    conn = UnixHTTPConnection(daemon.socket, timeout=30)
    try:
        conn.request("GET", "/v1.41/events?filters=" + json.dumps(filters).replace(" ", ""))
        response = conn.getresponse()  # the headers come once the subscription is live
        assert response.status == 200
        yield response
    finally:
        conn.close()


def read_until(response: Any, done: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or not done(seen[-1]):
        line = response.readline()
        assert line, f"the event stream ended after {seen}"
        seen.append(json.loads(line))
    return seen


def test_network_and_volume_events_in_dockers_shapes(daemon: Daemon) -> None:
    with event_stream(daemon, {"type": ["network", "volume"]}) as response:
        assert daemon.pouchsh("-c", "network create evnet").returncode == 0  # from the shell
        daemon.docker("volume", "create", "evvol", check=True)  # from the API
        net_id = json.loads(daemon.docker("network", "inspect", "evnet", check=True).stdout)[0]["Id"]
        daemon.docker("run", "-d", "--name", "evc", "busybox", "sleep", "300", check=True)
        cid = json.loads(daemon.docker("inspect", "evc", check=True).stdout)[0]["Id"]
        daemon.docker("network", "connect", "evnet", "evc", check=True)
        daemon.docker("network", "disconnect", "evnet", "evc", check=True)
        daemon.docker("rm", "-f", "evc", check=True)
        daemon.docker("network", "rm", "evnet", check=True)
        assert daemon.pouchsh("-c", "volume rm evvol").returncode == 0
        seen = read_until(response, lambda e: e["Type"] == "volume" and e["Action"] == "destroy")
    ours = [(e["Type"], e["Action"]) for e in seen if e["Actor"]["Attributes"].get("name") in ("evnet", "evvol")]
    assert ours == [("network", "create"), ("volume", "create"), ("network", "connect"),
                    ("network", "disconnect"), ("network", "destroy"), ("volume", "destroy")]
    for e in seen:
        assert e["scope"] == "local" and e["timeNano"] // 10**9 == e["time"]
        assert not {"status", "id", "from"} & set(e), e  # docker's network and volume events have none
    network = [e for e in seen if e["Type"] == "network" and e["Actor"]["Attributes"]["name"] == "evnet"]
    assert {e["Actor"]["ID"] for e in network} == {net_id}
    connect = next(e for e in network if e["Action"] == "connect")
    assert connect["Actor"]["Attributes"] == {"container": cid, "name": "evnet", "type": "bridge"}
    volume = next(e for e in seen if e["Type"] == "volume")
    assert volume["Actor"]["ID"] == "evvol" and volume["Actor"]["Attributes"]["driver"] == "local"


def test_label_filter_and_labels_in_container_events(daemon: Daemon) -> None:
    with event_stream(daemon, {"label": ["team=blue"], "event": ["destroy"]}) as response:
        daemon.docker("run", "--rm", "--label", "team=red", "busybox", "true", check=True)
        daemon.docker("run", "--rm", "--name", "blue1", "--label", "team=blue", "--label", "tier=web", "busybox",
                      "true", check=True)
        event = json.loads(response.readline())
    assert event["Action"] == "destroy" and event["Actor"]["Attributes"]["name"] == "blue1"
    assert event["Actor"]["Attributes"]["team"] == "blue" and event["Actor"]["Attributes"]["tier"] == "web"
    assert event["status"] == "destroy" and event["id"] == event["Actor"]["ID"]


def test_network_and_volume_filters(daemon: Daemon) -> None:
    with event_stream(daemon, {"volume": ["keepme"]}) as response:
        daemon.docker("volume", "create", "other1", check=True)
        daemon.docker("volume", "create", "keepme", check=True)
        event = json.loads(response.readline())
    assert (event["Type"], event["Action"], event["Actor"]["ID"]) == ("volume", "create", "keepme")
    daemon.docker("volume", "rm", "other1", "keepme", check=True)


def test_the_shells_events_see_what_the_api_does(daemon: Daemon) -> None:
    from managers import Managers

    facade = Managers(address=daemon.address, namespace=daemon.namespace, root=daemon.root, run_root=daemon.run)
    try:
        stream = facade.system.events(filters=["type=volume", "label=nope", "type=network"])
        stream.close()
        stream = facade.system.events(filters=["type=volume"])
        try:
            daemon.docker("volume", "create", "fromapi1", check=True)
            record = next(stream)
        finally:
            stream.close()
        daemon.docker("volume", "rm", "fromapi1", check=True)
    finally:
        facade.close()
    assert (record["type"], record["action"], record["id"], record["name"]) == ("volume", "create", "fromapi1",
                                                                                "fromapi1")
    assert record["attributes"]["driver"] == "local" and record["attributes"]["topic"] == "/volumes/create"


def test_bad_event_filters_are_400(daemon: Daemon) -> None:
    status, _, body = daemon.request("GET", '/v1.41/events?filters={"colour":["blue"]}')
    assert status == 400 and b"colour" in body
