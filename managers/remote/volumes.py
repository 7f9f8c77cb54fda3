"""A pouchd context's volumes: ``volume ls``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from managers.remote.fields import REF, as_labels, as_text, docker_filters
from managers.remote.served import Remote


class RemoteVolumes(Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        """``volume ls``: pouchd's ``GET /volumes`` as the local records (by name); the mountpoint is a
        path on the pouchd's host."""
        reply = self.api.get("/volumes", {"filters": docker_filters(filters) or None}, what="volume ls")
        items = reply.get("Volumes") if isinstance(reply, dict) else None
        out = []
        for item in items if isinstance(items, builtins.list) else []:
            if not isinstance(item, dict) or not REF.match(as_text(item.get("Name"))):
                continue
            out.append({
                "name": item["Name"], "driver": as_text(item.get("Driver")) or "local",
                "mountpoint": as_text(item.get("Mountpoint")), "labels": as_labels(item.get("Labels")),
                "options": as_labels(item.get("Options")), "scope": as_text(item.get("Scope")) or "local",
                "created": as_text(item.get("CreatedAt")),
            })
        out.sort(key=lambda r: r["name"])
        return out
