"""containerd's event stream: ``client.events.subscribe(filters)`` → an iterator of ``Event``.

Payloads are decoded through ctrd's own table of type URLs: containerd sends the bare proto name
(``containerd.events.TaskExit``), which protobuf's ``Any.Unpack`` rejects. An unknown type is kept raw.
The stream has no replay; after an error, subscribe again and re-list (ctrd.watch does that).
"""

from __future__ import annotations

import builtins
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from ctrd import typeurl
from ctrd.api.events import namespace_pb2
from ctrd.api.services.events.v1 import events_pb2, events_pb2_grpc
from ctrd.connection import CallStream
from ctrd.convert import to_datetime
from ctrd.errors import Interrupted, InvalidArgument, PouchError, Timeout
from ctrd.service import Service

__all__ = ["SYNC_TOPIC", "Event", "Events", "Subscription", "decode_payload", "message_to_dict"]

#: the topic of the markers ``Events.publish_marker`` sends (ctrd.watch uses them to know its stream is live)
SYNC_TOPIC = "/pouchsh/sync"
_MARKER_URL = "containerd.events.NamespaceUpdate"


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope from the stream.

    - ``timestamp``: when it was published (UTC)
    - ``namespace``: the containerd namespace it happened in
    - ``topic``: ``/tasks/exit``, ``/containers/create`` …
    - ``type``: the payload's type URL (``containerd.events.TaskExit``)
    - ``payload``: the decoded payload, every field present (proto3 zero values included), timestamps as
      datetimes (None when unset), nested messages as dicts; for an unknown type ``{"raw": bytes}``
    """

    timestamp: datetime | None
    namespace: str
    topic: str
    type: str
    payload: Mapping[str, Any]

    @classmethod
    def from_proto(cls, envelope: events_pb2.Envelope) -> Event:
        return cls(
            timestamp=to_datetime(envelope.timestamp),
            namespace=envelope.namespace,
            topic=envelope.topic,
            type=envelope.event.type_url,
            payload=decode_payload(envelope.event),
        )


def decode_payload(value: any_pb2.Any) -> dict[str, Any]:
    """The payload as a dict, through ctrd's type-URL table; ``{"raw": bytes}`` for an unknown type."""
    try:
        message = typeurl.unpack(value)
    except (InvalidArgument, DecodeError):
        return {"raw": value.value}
    return message_to_dict(message) if isinstance(message, Message) else {"value": message}


def message_to_dict(msg: Message) -> dict[str, Any]:
    """All fields of ``msg`` by proto name, zero values included (MessageToDict drops them, and a
    dropped ``exit_status`` 0 reads as missing)."""
    out: dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        value = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            out[f.name] = {k: _value(value_field, v) for k, v in value.items()}
        elif f.is_repeated:
            out[f.name] = [_value(f, v) for v in value]
        elif f.message_type is not None and not msg.HasField(f.name):
            out[f.name] = None
        else:
            out[f.name] = _value(f, value)
    return out


def _value(f: Any, value: Any) -> Any:
    if f.message_type is None:
        return value
    name = f.message_type.full_name
    if name == "google.protobuf.Timestamp":
        return to_datetime(value)
    if name == "google.protobuf.Any":
        return {"type_url": value.type_url, "value": value.value}
    return message_to_dict(value)


class Subscription:
    """An open event stream. Iterate it; ``close()`` (from any thread) ends the iteration cleanly.

    Errors of the stream (containerd gone: Unavailable) are raised from ``next()``.
    """

    def __init__(self, stream: CallStream[events_pb2.Envelope]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return Event.from_proto(next(self._stream))

    def close(self) -> None:
        self._stream.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Events(Service):
    """``client.events``: subscribe to containerd's events."""

    stub_class = events_pb2_grpc.EventsStub

    def subscribe(self, filters: Iterable[str] = (), *, all_namespaces: bool = False) -> Subscription:
        """Open the stream. ``filters`` use containerd's syntax and are OR'd, each a comma-joined AND
        (``topic=="/tasks/exit",event.container_id==web``). A namespaced client sees only its own
        namespace unless ``all_namespaces``."""
        filters = list(filters)
        if self.client.namespace and not all_namespaces:
            scope = f"namespace=={json.dumps(self.client.namespace)}"
            filters = [f"{scope},{f}" for f in filters] if filters else [scope]
        what = "event subscription"
        return Subscription(
            self.client.stream(self.stub.Subscribe, events_pb2.SubscribeRequest(filters=filters), what)
        )

    def publish_marker(self, token: str | None = None) -> str:
        """Publish a marker event on ``SYNC_TOPIC`` in this client's namespace and return its token
        (``token``, or a new random one).

        A subscriber that sees its own token knows its stream was live before the marker was sent; the
        Subscribe call itself gives no such acknowledgement.
        """
        token = token or os.urandom(8).hex()
        marker = namespace_pb2.NamespaceUpdate(
            name=self.client.namespace or "", labels={"pouchsh/sync": token}
        )
        request = events_pb2.PublishRequest(
            topic=SYNC_TOPIC, event=any_pb2.Any(type_url=_MARKER_URL, value=marker.SerializeToString())
        )
        self.client.call(self.stub.Publish, request, "event publish")
        return token

    def publish(self, topic: str, attributes: Mapping[str, str]) -> None:
        """Publish an event of pouchsh's own (a network's or a volume's, which containerd does not
        hold) on ``topic`` in this client's namespace, so every subscriber sees it beside containerd's.
        The attributes travel as a NamespaceUpdate's labels: a payload type containerd forwards and
        ctrd's table decodes."""
        message = namespace_pb2.NamespaceUpdate(name=self.client.namespace or "", labels=dict(attributes))
        request = events_pb2.PublishRequest(
            topic=topic, event=any_pb2.Any(type_url=_MARKER_URL, value=message.SerializeToString())
        )
        self.client.call(self.stub.Publish, request, "event publish")

    def wait_live(self, subscription: Subscription, *, timeout: float | None = None) -> builtins.list[Event]:
        """Block until ``subscription`` (opened on this namespaced client) is certainly registered.

        Publishes markers until one comes back; a marker published before containerd registered the
        stream is lost, so they are repeated (after 50 ms, doubling up to 1 s). Returns the other events
        that arrived meanwhile, in order. On ``timeout`` the subscription is closed and Timeout raised; if
        the stream ends first, Interrupted (or the stream's own error).
        """
        if not self.client.namespace:
            raise InvalidArgument(
                "wait_live needs a client bound to a namespace (markers are published in it)"
            )
        tokens: set[str] = set()
        seen = threading.Event()
        failure: builtins.list[PouchError] = []

        def publish() -> None:
            delay = 0.05
            while not seen.is_set():
                # Known before it is sent: the marker can come back through the stream before Publish returns.
                token = os.urandom(8).hex()
                tokens.add(token)
                try:
                    self.publish_marker(token)
                except PouchError as err:
                    failure.append(err)
                    subscription.close()  # containerd is not answering: end the wait below
                    return
                if seen.wait(delay):
                    return
                delay = min(delay * 2, 1.0)

        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            subscription.close()

        timer = threading.Timer(timeout, expire) if timeout is not None else None
        publisher = threading.Thread(target=publish, name="ctrd-event-markers", daemon=True)
        early: builtins.list[Event] = []
        try:
            if timer is not None:
                timer.start()
            publisher.start()
            for event in subscription:
                if event.topic != SYNC_TOPIC:
                    early.append(event)
                elif event.payload.get("labels", {}).get("pouchsh/sync") in tokens:
                    return early
        finally:
            seen.set()
            if timer is not None:
                timer.cancel()
            publisher.join()
        if failure:
            raise failure[0]
        if timed_out.is_set():
            raise Timeout(f"event subscription not live within {timeout:g}s")
        raise Interrupted("event subscription ended before it was live")
