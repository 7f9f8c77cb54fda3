"""The view of each listing and inspect (pouchsh.views): docker's fields for our records, and the columns
docker's table shows of them. Each command names its view in its declaration (``view=listings.PS``).

The field names are docker's (``docker ps --format '{{.Names}}'`` ports unchanged); where docker writes
a field as text (``.Ports``, ``.Labels``, ``.CreatedAt``) so do these.
"""

from __future__ import annotations

import functools
from typing import Any

from pouchsh.views import (
    Column,
    View,
    ago,
    docker_time,
    ellipsis,
    human_size,
    label_method,
    labels_text,
    ports_text,
    short_id,
)

__all__ = [
    "CONTAINER_INSPECT", "EVENTS", "HISTORY", "IMAGES", "IMAGE_INSPECT", "NAMESPACES", "NETWORKS",
    "NETWORK_INSPECT", "PS", "TOP", "VOLUMES", "VOLUME_INSPECT",
]


@functools.lru_cache(maxsize=256)  # a listing shows few distinct images many times
def _image_name(name: str) -> str:
    """As docker shows an image it was given by name: ``busybox`` for docker.io/library/busybox:latest."""
    from managers.reference import familiar

    return familiar(name).removesuffix(":latest") if name else ""


def _ps(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    mounts = [m.get("name") or ellipsis(m.get("source") or "", 15, trunc) for m in r.get("mounts") or []]
    return {
        "ID": short_id(r.get("id") or "", trunc),
        "Image": _image_name(r.get("image") or ""),
        "Command": '"' + ellipsis(r.get("command") or "", 20, trunc) + '"',
        "CreatedAt": docker_time(r.get("created")),
        "RunningFor": ago(r.get("created")),
        "Ports": ports_text(r.get("ports") or []),
        "State": r.get("status") or "",
        "Status": r.get("state") or "",
        "Size": "",
        "Names": r.get("name") or "",
        "Labels": labels_text(r.get("labels")),
        "Label": label_method(r.get("labels")),
        "Mounts": ",".join(mounts),
        "Networks": ",".join(r.get("networks") or []),
        "LocalVolumes": str(sum(1 for m in r.get("mounts") or [] if m.get("type") == "volume")),
    }


PS = View(
    _ps,
    columns=(
        Column("CONTAINER ID", "ID", 0), Column("IMAGE", "Image", 2), Column("COMMAND", "Command", 1),
        Column("CREATED", "RunningFor", 0), Column("STATUS", "Status", 0), Column("PORTS", "Ports", 1),
        Column("NAMES", "Names", 2),
    ),
    headers={"CreatedAt": "CREATED AT", "State": "STATE", "Size": "SIZE", "Labels": "LABELS", "Label": "LABEL",
             "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES"},
)


def _image(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    size = human_size(r.get("size"))
    return {
        "ID": short_id(r.get("id") or "", trunc),
        "Repository": r.get("repository") or "<none>",
        "Tag": r.get("tag") or "<none>",
        "Digest": r.get("digest") or "<none>",
        "CreatedSince": ago(r.get("created")) or "N/A",
        "CreatedAt": docker_time(r.get("created")),
        "Size": size,
        "VirtualSize": size,
        "Containers": "N/A",
        "SharedSize": "N/A",
        "UniqueSize": "N/A",
    }


IMAGES = View(
    _image,
    columns=(
        Column("REPOSITORY", "Repository", 2), Column("TAG", "Tag", 2), Column("IMAGE ID", "ID", 0),
        Column("CREATED", "CreatedSince", 0), Column("SIZE", "Size", 0),
    ),
    headers={"Digest": "DIGEST", "CreatedAt": "CREATED AT", "VirtualSize": "VIRTUAL SIZE",
             "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"},
)


def _history(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    ident = r.get("id") or "<missing>"
    return {
        "ID": ident if ident == "<missing>" else short_id(ident, trunc),
        "CreatedSince": ago(r.get("created")) or "N/A",
        "CreatedAt": docker_time(r.get("created")),
        "CreatedBy": ellipsis(r.get("created_by") or "", 45, trunc),
        "Size": human_size(r.get("size")),
        "Comment": r.get("comment") or "",
    }


HISTORY = View(
    _history,
    columns=(
        Column("IMAGE", "ID", 0), Column("CREATED", "CreatedSince", 0), Column("CREATED BY", "CreatedBy", 1),
        Column("SIZE", "Size", 0), Column("COMMENT", "Comment", 1),
    ),
    headers={"CreatedAt": "CREATED AT"},
)


def _volume(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    return {
        "Name": r.get("name") or "",
        "Driver": r.get("driver") or "local",
        "Scope": r.get("scope") or "local",
        "Mountpoint": r.get("mountpoint") or "",
        "Labels": labels_text(r.get("labels")),
        "Label": label_method(r.get("labels")),
        "Links": "N/A",
        "Size": "N/A",
    }


VOLUMES = View(
    _volume,
    columns=(Column("DRIVER", "Driver", 0), Column("VOLUME NAME", "Name", 2)),
    headers={"Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"},
)


def _network(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    return {
        "ID": short_id(r.get("id") or "", trunc),
        "Name": r.get("name") or "",
        "Driver": r.get("driver") or "",
        "Scope": "local",
        "IPv6": "false",
        "Internal": "true" if r.get("internal") else "false",
        "Labels": labels_text(r.get("labels")),
        "Label": label_method(r.get("labels")),
        "CreatedAt": docker_time(r.get("created")),
    }


NETWORKS = View(
    _network,
    columns=(Column("NETWORK ID", "ID", 0), Column("NAME", "Name", 2), Column("DRIVER", "Driver", 0),
             Column("SCOPE", "Scope", 0)),
    headers={"IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"},
)


def _namespace(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    return {"Name": r.get("name") or "", "Labels": labels_text(r.get("labels")),
            "Label": label_method(r.get("labels")), "Current": "*" if r.get("current") else ""}


NAMESPACES = View(
    _namespace,
    columns=(Column("NAME", "Name", 2), Column("LABELS", "Labels", 1), Column("CURRENT", "Current", 0)),
)


def _top(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    return {str(k).upper(): "" if v is None else str(v) for k, v in r.items()}


class _TopView(View):
    """``top``: the columns are the process table's own (ours, or those ``ps ARGS`` printed)."""

    def show(self, value: Any, args: dict[str, Any]) -> Any:
        if args.get("format") is not None or not value or not isinstance(value, list):
            return value
        from pouchsh.cells import Grid, table_columns

        keys = table_columns([v for v in value if isinstance(v, dict)])
        rows = [[_top(r, True).get(str(k).upper(), "") for k in keys] for r in value if isinstance(r, dict)]
        return Grid([str(k).upper() for k in keys], rows, [1 if str(k).lower() == "cmd" else 0 for k in keys])


TOP = _TopView(_top)


def _event(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
    from managers.dockershapes import event_shape

    shaped = event_shape(r)
    attributes = shaped["Actor"]["Attributes"]
    stamp = r.get("time") or ""
    text = stamp.removesuffix("Z")
    whole, _, frac = text.partition(".")
    shaped["Line"] = (f"{whole}.{frac.ljust(9, '0')[:9]}Z {r.get('type')} {r.get('action')} {r.get('id')}"
                      + (" (" + ", ".join(f"{k}={v}" for k, v in sorted(attributes.items())) + ")"
                         if attributes else ""))
    shaped["ID"], shaped["Status"], shaped["From"] = shaped.get("id", ""), shaped.get("status", ""), shaped.get("from", "")
    shaped["Type"], shaped["Time"], shaped["TimeNano"] = shaped["Type"], shaped["time"], shaped["timeNano"]
    return shaped


#: ``events``: docker's one line per event (time, type, action, id, attributes); ``--format`` sees
#: docker's event message (``{{.Type}} {{.Action}} {{.Actor.Attributes.name}}``)
EVENTS = View(_event, columns=(Column("", "Line", 0),), strict=False)


def _inspect_with(shape: str) -> View:
    def fields(r: dict[str, Any], trunc: bool) -> dict[str, Any]:
        from managers import dockershapes

        return getattr(dockershapes, shape)(r)  # type: ignore[no-any-return]

    return View(fields, strict=False)


#: inspect: ``--format`` reads docker's inspect JSON (``{{.State.Status}}``, ``{{range .Mounts}}``)
CONTAINER_INSPECT = _inspect_with("container_inspect")
IMAGE_INSPECT = _inspect_with("image_inspect")
VOLUME_INSPECT = _inspect_with("volume_shape")
NETWORK_INSPECT = _inspect_with("network_shape")
