"""Image endpoints: list, inspect, history, create (pull, with docker's JSON progress stream), push,
tag, delete, prune, get (save) and load."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ctrd.errors import InvalidArgument, NotFound
from pouchd.bridge.context import Bridge
from managers.dockershapes import epoch, image_inspect, image_summary
from pouchd.errors import NotImplementedByPouchd, message_of
from pouchd.server import json_response, query_bool, query_filters, stream_iter

__all__ = ["install"]

#: the largest image archive POST /images/load takes
_MAX_LOAD = 8 << 30


def install(b: Bridge) -> None:
    h = _Handlers(b)
    b.route("GET", "/images/json", h.list)
    b.route("POST", "/images/create", h.create)
    b.route("POST", "/images/load", h.load)
    b.route("GET", "/images/get", h.get)
    b.route("POST", "/images/prune", h.prune)
    b.route("GET", "/images/search", h.search)
    # names hold '/' and ':' (127.0.0.1:5000/test/bb:v1): the name part matches greedily
    b.route("GET", "/images/{name:.+}/json", h.inspect)
    b.route("GET", "/images/{name:.+}/history", h.history)
    b.route("GET", "/images/{name:.+}/get", h.get_one)
    b.route("POST", "/images/{name:.+}/tag", h.tag)
    b.route("POST", "/images/{name:.+}/push", h.push)
    b.route("DELETE", "/images/{name:.+}", h.delete)


def _progress_line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\r\n").encode()


class _Handlers:
    def __init__(self, b: Bridge) -> None:
        self.b = b

    @property
    def images(self) -> Any:
        return self.b.facade.images

    async def _inspect(self, name: str) -> dict[str, Any]:
        try:
            return await self.b.call(self.images.inspect, name)
        except NotFound:
            raise NotFound(f"No such image: {name}") from None

    async def list(self, request: web.Request) -> web.Response:
        records = await self.b.call(self.images.list, filters=query_filters(request))
        by_id: dict[str, dict[str, Any]] = {}
        for record in records:
            shaped = image_summary(record)
            seen = by_id.get(shaped["Id"])
            if seen is None:
                by_id[shaped["Id"]] = shaped
            else:
                seen["RepoTags"] += shaped["RepoTags"]
        return json_response(list(by_id.values()))

    async def inspect(self, request: web.Request) -> web.Response:
        r = await self._inspect(request.match_info["name"])
        return json_response(image_inspect(r))

    async def history(self, request: web.Request) -> web.Response:
        await self._inspect(request.match_info["name"])
        rows = await self.b.call(self.images.history, request.match_info["name"])
        return json_response([{
            "Id": row.get("id") or "<missing>", "Created": epoch(row.get("created")),
            "CreatedBy": row.get("created_by", ""), "Tags": None, "Size": row.get("size", 0),
            "Comment": row.get("comment", ""),
        } for row in rows])

    async def tag(self, request: web.Request) -> web.Response:
        repo = request.query.get("repo")
        if not repo:
            raise InvalidArgument("tag: the repo query parameter is required")
        tag = request.query.get("tag") or "latest"
        await self._inspect(request.match_info["name"])
        await self.b.call(self.images.tag, request.match_info["name"], f"{repo}:{tag}")
        return web.Response(status=201)

    async def delete(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await self._inspect(name)
        removed = await self.b.call(self.images.remove, [name], force=query_bool(request, "force"))
        out = []
        for record in removed:
            out.append({"Untagged": _familiar(record["name"])})
            if record.get("deleted"):
                out.append({"Deleted": record["id"]})
        return json_response(out)

    async def prune(self, request: web.Request) -> web.Response:
        filters = query_filters(request)
        every = "dangling=false" in filters or "dangling=0" in filters
        result = await self.b.call(self.images.prune, all=every)
        return json_response({"ImagesDeleted": [{"Untagged": _familiar(d)} for d in result["removed"]] or None,
                              "SpaceReclaimed": result["reclaimed"]})

    async def search(self, request: web.Request) -> web.Response:
        raise NotImplementedByPouchd("image search")

    # -- streams ---------------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("fromSrc"):
            raise NotImplementedByPouchd("image import (fromSrc)")
        image = request.query.get("fromImage")
        if not image:
            raise InvalidArgument("images/create: fromImage is required")
        tag = request.query.get("tag") or ""
        ref = image if not tag else (f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}")
        _check_auth(request)
        return await self._progress(request, lambda progress, cancel: self.images.pull(
            ref, platform=request.query.get("platform") or None, progress=progress, cancel=cancel), ref, "pull")

    async def push(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        tag = request.query.get("tag")
        ref = f"{name}:{tag}" if tag else name
        _check_auth(request)
        await self._inspect(ref)
        return await self._progress(request, lambda progress, cancel: self.images.push(
            ref, progress=progress, cancel=cancel), ref, "push")

    async def _progress(self, request: web.Request, work: Any, ref: str, verb: str) -> web.StreamResponse:
        """Run a pull or push, streaming its progress as docker's JSON lines; an error before anything
        was sent is a plain status, later ones an ``errorDetail`` line (the status is out already)."""
        import queue

        cancel = self.b.new_cancel()
        lines: queue.Queue[bytes | None] = queue.Queue()
        outcome: dict[str, Any] = {}

        def progress(*args: Any, **kwargs: Any) -> None:
            lines.put(_progress_line(_progress_object(args, kwargs)))

        def run() -> None:
            try:
                outcome["result"] = work(progress, cancel)
            except BaseException as err:  # noqa: BLE001 (carried to the response)
                outcome["error"] = err
            finally:
                lines.put(None)

        threading.Thread(target=run, name=f"pouchd-{verb}", daemon=True).start()
        first = await self.b.call(lines.get)
        if first is None and "error" in outcome:
            raise outcome["error"]

        def rest() -> Iterator[bytes]:
            if first is not None:
                yield first
                while (line := lines.get()) is not None:
                    yield line
            if "error" in outcome:
                message = message_of(outcome["error"])
                yield _progress_line({"errorDetail": {"message": message}, "error": message})
            elif verb == "pull":
                yield _progress_line({"status": f"Status: Downloaded newer image for {ref}"})
            else:
                result = outcome["result"]
                yield _progress_line({"status": f"{ref.rpartition(':')[2]}: digest: {result['digest']} size: {result['size']}"})
                yield _progress_line({"progressDetail": {}, "aux": {"Tag": ref.rpartition(":")[2],
                                                                    "Digest": result["digest"], "Size": result["size"]}})

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        await stream_iter(self.b.api, request, response, rest(), cancel)
        await response.write_eof()
        return response

    async def load(self, request: web.Request) -> web.StreamResponse:
        import os
        import tempfile

        # Spooled to a private temporary file: the archive reader seeks, and an upload may be large.
        with tempfile.TemporaryFile(dir=os.environ.get("TMPDIR")) as spool:
            size = 0
            async for chunk in request.content.iter_chunked(1 << 20):
                size += len(chunk)
                if size > _MAX_LOAD:
                    raise InvalidArgument(f"image archive larger than {_MAX_LOAD} bytes")
                await self.b.call(spool.write, chunk)
            spool.seek(0)
            records = await self.b.call(self.images.load, spool)
        names = [r.get("name") or r.get("id") for r in records]
        text = "".join(f"Loaded image: {_familiar(n)}\n" for n in names)
        return web.Response(status=200, body=_progress_line({"stream": text}), headers={"Content-Type": "application/json"})

    async def get(self, request: web.Request) -> web.StreamResponse:
        names = request.query.getall("names", [])
        if not names:
            raise InvalidArgument("images/get: give at least one names parameter")
        return await self._save(request, names)

    async def get_one(self, request: web.Request) -> web.StreamResponse:
        return await self._save(request, [request.match_info["name"]])

    async def _save(self, request: web.Request, names: list[str]) -> web.StreamResponse:
        import io

        for name in names:
            await self._inspect(name)
        out = io.BytesIO()
        await self.b.call(self.images.save, names, stream=out)
        return web.Response(status=200, body=out.getvalue(), content_type="application/x-tar")


def _familiar(name: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _check_auth(request: web.Request) -> None:
    """X-Registry-Auth must be base64 JSON when given. Its credentials are not used: pouchsh reads them
    from its own store, which ``docker login`` (POST /auth) fills, so a registry that wants others
    answers with its own "unauthorized"."""
    header = request.headers.get("X-Registry-Auth")
    if not header:
        return
    try:
        padded = header + "=" * (-len(header) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, RecursionError):
        raise InvalidArgument("X-Registry-Auth: not base64 JSON") from None
    if not isinstance(decoded, dict):
        raise InvalidArgument("X-Registry-Auth: not a JSON object")


_PROGRESS_STATUS = {"waiting": "Waiting", "downloading": "Downloading", "uploading": "Pushing",
                    "exists": "Already exists", "done": "Download complete"}


def _progress_object(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A manager progress report (managers.progress.Progress) as a docker progress line."""
    event = args[0] if args else None
    status = str(getattr(event, "status", "") or "")
    out: dict[str, Any] = {"status": _PROGRESS_STATUS.get(status, status.capitalize()),
                           "id": str(getattr(event, "id", "") or "").removeprefix("sha256:")[:12]}
    current, total = getattr(event, "current", 0), getattr(event, "total", 0)
    out["progressDetail"] = {"current": current, "total": total} if total else {}
    return out
