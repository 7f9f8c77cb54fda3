"""The event stream against the real containerd: order, decoding, namespace scope, cancellation."""

from __future__ import annotations

import threading

import pytest

import ctrd
from ctrd.errors import InvalidArgument, Timeout
from ctrd.events import Event, Subscription
from ctrd.stdio import NullIO
from tests.ctrd.runtime_kit import make_container, remove_container

pytestmark = pytest.mark.containerd

WAIT = 60


def collect_until(subscription: Subscription, last_topic: str) -> list[Event]:
    """Events up to and including the first ``last_topic``; a watchdog ends a stream that stalls."""
    watchdog = threading.Timer(WAIT, subscription.close)
    watchdog.start()
    events: list[Event] = []
    try:
        for event in subscription:
            events.append(event)
            if event.topic == last_topic:
                break
    finally:
        watchdog.cancel()
    return events


def test_lifecycle_events_arrive_in_order_and_decoded(ns_client: ctrd.Client, busybox_image: str) -> None:
    with ns_client.events.subscribe() as subscription:
        ns_client.events.wait_live(subscription, timeout=WAIT)
        mounts = make_container(ns_client, busybox_image, "ev1", ["sh", "-c", "exit 7"])
        ns_client.tasks.create("ev1", rootfs=mounts, io=NullIO())
        exit_future = ns_client.tasks.wait("ev1")
        pid = ns_client.tasks.start("ev1")
        assert exit_future.result(WAIT).exit_status == 7
        ns_client.tasks.delete("ev1")
        remove_container(ns_client, "ev1")
        events = collect_until(subscription, "/containers/delete")
    topics = [e.topic for e in events if not e.topic.startswith("/snapshot/")]
    assert topics == [
        "/containers/create",
        "/tasks/create",
        "/tasks/start",
        "/tasks/exit",
        "/tasks/delete",
        "/containers/delete",
    ]
    by_topic = {e.topic: e for e in events}
    assert all(e.namespace == ns_client.namespace for e in events)
    assert by_topic["/containers/create"].payload["image"] == busybox_image
    assert by_topic["/containers/create"].type == "containerd.events.ContainerCreate"
    assert by_topic["/tasks/start"].payload == {"container_id": "ev1", "pid": pid}
    exit_payload = by_topic["/tasks/exit"].payload
    assert (exit_payload["id"], exit_payload["exit_status"], exit_payload["pid"]) == ("ev1", 7, pid)
    assert exit_payload["exited_at"] is not None
    assert by_topic["/tasks/delete"].payload["exit_status"] == 7
    stamps = [e.timestamp for e in events]
    assert all(s is not None for s in stamps) and stamps == sorted(stamps)  # type: ignore[type-var]


def test_filters_and_namespace_scope(
    ctrd_client: ctrd.Client, ns_client: ctrd.Client, busybox_image: str
) -> None:
    other = f"{ns_client.namespace}-other"
    ctrd_client.namespaces.create(other)
    try:
        other_client = ctrd_client.with_namespace(other)
        with ns_client.events.subscribe(['topic~="^/(containers|pouchsh)/"']) as subscription:
            ns_client.events.wait_live(subscription, timeout=WAIT)
            other_client.containers.create("elsewhere", spec={"ociVersion": "1.0.2"}, snapshot_key="")
            make_container(ns_client, busybox_image, "here", ["true"])
            remove_container(ns_client, "here")
            events = collect_until(subscription, "/containers/delete")
        assert [(e.topic, e.namespace) for e in events] == [
            ("/containers/create", ns_client.namespace),
            ("/containers/delete", ns_client.namespace),
        ]
        other_client.containers.delete("elsewhere")
    finally:
        ctrd_client.namespaces.delete(other)


def test_closing_ends_the_iteration_from_another_thread(ns_client: ctrd.Client) -> None:
    subscription = ns_client.events.subscribe()
    ns_client.events.wait_live(subscription, timeout=WAIT)
    ended = threading.Event()

    def consume() -> None:
        for _ in subscription:
            pass
        ended.set()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    subscription.close()
    assert ended.wait(WAIT)


def test_wait_live_times_out_when_markers_cannot_arrive(
    ns_client: ctrd.Client, ctrd_client: ctrd.Client
) -> None:
    subscription = ns_client.events.subscribe(['topic=="/tasks/oom"'])  # filters the markers out
    with pytest.raises(Timeout):
        ns_client.events.wait_live(subscription, timeout=0.3)
    with pytest.raises(InvalidArgument):
        ctrd_client.events.wait_live(subscription)
