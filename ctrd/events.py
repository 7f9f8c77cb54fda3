"""containerd's event stream: ``client.events.subscribe(filters)`` → an iterator of ``Event``.

Payloads are decoded through ctrd's own table of type URLs: containerd sends the bare proto name
(``containerd.events.TaskExit``), which protobuf's ``Any.Unpack`` rejects. An unknown type is kept raw.
The stream has no replay; after an error, subscribe again and re-list (ctrd.watch does that).
"""

from __future__ import annotations

import json
import os
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
from ctrd.errors import InvalidArgument
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

    def publish_marker(self) -> str:
        """Publish a marker event on ``SYNC_TOPIC`` in this client's namespace and return its token.

        A subscriber that sees its own token knows its stream was live before the marker was sent; the
        Subscribe call itself gives no such acknowledgement.
        """
        token = os.urandom(8).hex()
        marker = namespace_pb2.NamespaceUpdate(
            name=self.client.namespace or "", labels={"pouchsh/sync": token}
        )
        request = events_pb2.PublishRequest(
            topic=SYNC_TOPIC, event=any_pb2.Any(type_url=_MARKER_URL, value=marker.SerializeToString())
        )
        self.client.call(self.stub.Publish, request, "event publish")
        return token
