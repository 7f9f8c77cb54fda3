"""``google.protobuf.Any`` the way containerd writes it, through ctrd's own table of type URLs.

containerd names protobuf messages by their bare full name (``containerd.events.TaskExit``) and JSON
values by a path-like URL (``types.containerd.io/opencontainers/runtime-spec/1/Spec``). protobuf's own
``Any.Unpack`` wants a ``…/`` prefix and rejects the former, so ctrd packs and unpacks by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import ModuleType
from typing import Any as AnyValue

from google.protobuf.any_pb2 import Any
from google.protobuf.message import Message

from ctrd.errors import InvalidArgument

__all__ = [
    "PROCESS_SPEC_URL",
    "RUNTIME_SPEC_URL",
    "is_json",
    "pack",
    "pack_json",
    "register_json",
    "register_messages",
    "unpack",
]

RUNTIME_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"

_MESSAGES: dict[str, type[Message]] = {}
_JSON: set[str] = {RUNTIME_SPEC_URL, PROCESS_SPEC_URL}
_loaded = False


def register_messages(classes: Iterable[type[Message]]) -> None:
    """Make ``unpack`` decode these message types (keyed by their full proto name)."""
    for cls in classes:
        _MESSAGES[cls.DESCRIPTOR.full_name] = cls


def register_json(type_url: str) -> None:
    """Make ``unpack`` decode ``type_url`` payloads as JSON."""
    _JSON.add(type_url)


def _messages_of(module: ModuleType) -> list[type[Message]]:
    return [getattr(module, name) for name in module.DESCRIPTOR.message_types_by_name]


def _load_builtin() -> None:
    """containerd's event types and runc options: everything an Any from containerd 1.6 can hold for us."""
    global _loaded
    from ctrd.api.events import container_pb2, content_pb2, image_pb2, namespace_pb2, snapshot_pb2, task_pb2
    from ctrd.api.runc.options import oci_pb2

    for module in (container_pb2, content_pb2, image_pb2, namespace_pb2, snapshot_pb2, task_pb2, oci_pb2):
        register_messages(_messages_of(module))
    _loaded = True


def pack(message: Message) -> Any:
    """A message as containerd's Any: ``type_url`` is the bare full name."""
    return Any(type_url=message.DESCRIPTOR.full_name, value=message.SerializeToString())


def pack_json(type_url: str, value: AnyValue) -> Any:
    """A JSON value (an OCI spec, a process spec) as an Any with ``type_url``."""
    return Any(type_url=type_url, value=json.dumps(value, separators=(",", ":")).encode())


def is_json(type_url: str) -> bool:
    return type_url in _JSON


def unpack(value: Any) -> AnyValue:
    """The decoded payload: a protobuf message for registered messages, a dict/list for JSON URLs."""
    if not _loaded:
        _load_builtin()
    url = value.type_url
    cls = _MESSAGES.get(url)
    if cls is None and url.startswith("type.googleapis.com/"):
        cls = _MESSAGES.get(url[len("type.googleapis.com/") :])
    if cls is not None:
        message = cls()
        message.ParseFromString(value.value)
        return message
    if url in _JSON:
        return json.loads(value.value) if value.value else None
    raise InvalidArgument(f"unknown Any type {url!r}")
