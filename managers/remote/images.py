"""A pouchd context's images: ``images`` and ``pull`` (on the pouchd's host, with its registries)."""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Iterable
from typing import Any

from ctrd.errors import PouchRuntimeError
from managers.remote.fields import as_int, as_iso, as_labels, as_text, checked_ref, docker_filters
from managers.remote.served import Remote

_MAX_PULL_LINE = 1 << 20



class RemoteImages(Remote):
    def list(self, *, filters: Iterable[str] = ()) -> builtins.list[dict[str, Any]]:
        reply = self.api.get("/images/json", {"filters": docker_filters(filters) or None}, what="images")
        out = []
        for item in reply if isinstance(reply, builtins.list) else []:
            if not isinstance(item, dict) or not as_text(item.get("Id")):
                continue
            tags = [t for t in (item.get("RepoTags") if isinstance(item.get("RepoTags"), builtins.list) else [])
                    if isinstance(t, str)] or ["<none>:<none>"]
            for tag in tags:
                slash = tag.rfind("/")
                colon = tag.rfind(":")
                repository, label = (tag[:colon], tag[colon + 1:]) if colon > slash else (tag, "<none>")
                out.append({
                    "name": tag if repository != "<none>" else "", "repository": repository, "tag": label,
                    "id": item["Id"], "digest": "", "size": as_int(item.get("Size")) or 0,
                    "created": as_iso(item.get("Created")), "labels": as_labels(item.get("Labels")), "platform": "",
                })
        return out

    def pull(self, ref: str, *, platform: str | None = None, progress: Any = None, cancel: threading.Event | None = None,
             **_transfer: Any) -> dict[str, Any]:
        """``pull`` on the pouchd's host (its registries, mirrors and credentials); the image's record.
        Transfer tuning (``--max-concurrent-downloads``, ``--insecure-registry``) is the pouchd's own."""
        ref = checked_ref(ref, "image")
        params = {"fromImage": ref, "platform": platform}
        with self.api.stream("POST", "/images/create", params, what=f"pull {ref}", cancel=cancel,
                             read_timeout=None) as chunks:
            buf = b""
            for chunk in chunks:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                if len(buf) > _MAX_PULL_LINE:
                    raise PouchRuntimeError(f"pull {ref}: pouchd's progress line is too long")
                for line in lines:
                    _pull_line(line, ref)
            _pull_line(buf, ref)
        doc = self.api.get(f"/images/{ref}/json", what=f"image inspect {ref}")
        if not isinstance(doc, dict):
            raise PouchRuntimeError(f"pull {ref}: pouchd's image record is not one")
        tags = doc.get("RepoTags") if isinstance(doc.get("RepoTags"), builtins.list) else []
        return {"name": ref, "id": as_text(doc.get("Id")), "repo_tags": [t for t in tags if isinstance(t, str)],
                "size": as_int(doc.get("Size")) or 0}


def _pull_line(line: bytes, ref: str) -> None:
    """A progress line; its error, raised (pouchd has sent the status already, so errors come as lines)."""
    if not line.strip():
        return
    try:
        doc = json.loads(line)
    except ValueError:
        raise PouchRuntimeError(f"pull {ref}: pouchd's progress is not JSON lines") from None
    if isinstance(doc, dict) and doc.get("error") is not None:
        message = as_text(doc.get("error"))[:1000] or "failed"
        raise PouchRuntimeError(f"pull {ref} on pouchd: {''.join(c if c.isprintable() else '?' for c in message)}")
