"""Container endpoints: list, create, inspect, the life-cycle verbs, wait, logs, attach, resize, rename,
top, prune and archive (docker cp)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import queue
import select
import socket
import struct
import tarfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ctrd.errors import InvalidArgument, NotFound, PouchError, Unavailable
from managers.attach import follow_output
from managers.console import Stdio
from managers.hostside import TOP_COLUMNS
from managers.options import CreateOptions
from pouchd.bridge.context import Bridge, PendingAttach
from pouchd.bridge.createbody import create_kwargs
from managers.dockershapes import container_inspect, container_summary
from pouchd.errors import ApiError, NotImplementedByPouchd
from pouchd.hijack import Hijacked, hijack
from pouchd.server import body_json, json_response, query_bool, query_filters, query_int, stream_iter

__all__ = ["install"]

_WAIT_CONDITIONS = ("not-running", "next-exit", "removed")
#: how long a start waits for the 101 of an attach registered just before it
_ATTACH_READY = 30.0


def install(b: Bridge) -> None:
    h = _Handlers(b)
    b.route("GET", "/containers/json", h.list)
    b.route("POST", "/containers/create", h.create)
    b.route("POST", "/containers/prune", h.prune)
    b.route("GET", "/containers/{id}/json", h.inspect)
    b.route("POST", "/containers/{id}/start", h.start)
    b.route("POST", "/containers/{id}/stop", h.stop)
    b.route("POST", "/containers/{id}/restart", h.restart)
    b.route("POST", "/containers/{id}/kill", h.kill)
    b.route("POST", "/containers/{id}/pause", h.pause)
    b.route("POST", "/containers/{id}/unpause", h.unpause)
    b.route("POST", "/containers/{id}/wait", h.wait)
    b.route("DELETE", "/containers/{id}", h.delete)
    b.route("GET", "/containers/{id}/logs", h.logs)
    b.route("POST", "/containers/{id}/attach", h.attach)
    b.route("POST", "/containers/{id}/resize", h.resize)
    b.route("POST", "/containers/{id}/rename", h.rename)
    b.route("POST", "/containers/{id}/update", h.update)
    b.route("GET", "/containers/{id}/top", h.top)
    b.route("GET", "/containers/{id}/archive", h.archive_get)
    b.route("HEAD", "/containers/{id}/archive", h.archive_head)
    b.route("PUT", "/containers/{id}/archive", h.archive_put)
    b.route("GET", "/containers/{id}/stats", h.stats)
    b.route("GET", "/containers/{id}/export", h.export)
    b.route("GET", "/containers/{id}/changes", h.changes)
    for path in ("/containers/{id}/attach/ws",):
        b.route("GET", path, _not_implemented(path))


def _not_implemented(path: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        raise NotImplementedByPouchd(f"GET {path}")

    return handler


def _no_such_container(err: NotFound, ref: str) -> NotFound:
    return NotFound(f"No such container: {ref}") if "container" not in str(err).lower() else err


class _Handlers:
    def __init__(self, b: Bridge) -> None:
        self.b = b

    @property
    def containers(self) -> Any:
        return self.b.facade.containers

    async def _record(self, ref: str) -> dict[str, Any]:
        try:
            return await self.b.call(self.containers.inspect, ref)
        except NotFound as err:
            raise _no_such_container(err, ref) from None

    # -- queries ------------------------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.Response:
        limit = query_int(request, "limit")
        records = await self.b.call(
            self.containers.list, all=query_bool(request, "all"), filters=query_filters(request), no_trunc=True,
            last=limit if limit is not None and limit > 0 else None,
        )
        return json_response([container_summary(r) for r in records])

    async def inspect(self, request: web.Request) -> web.Response:
        return json_response(container_inspect(await self._record(request.match_info["id"])))

    async def top(self, request: web.Request) -> web.Response:
        rows = await self.b.call(self.containers.top, request.match_info["id"])
        if request.query.get("ps_args"):
            raise InvalidArgument("top: ps_args is not supported by pouchd (it reads /proc, not ps)")
        # docker's default titles (the host's ps -ef), the records' own columns
        processes = [["" if row.get(k) is None else str(row[k]) for k in TOP_COLUMNS] for row in rows]
        return json_response({"Titles": [k.upper() for k in TOP_COLUMNS], "Processes": processes})

    # -- create ------------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        body = await body_json(request)
        name = request.query.get("name") or None
        if name is not None and name.startswith("/"):
            name = name[1:]
        kwargs = create_kwargs(body, name)
        image, args = kwargs.pop("image"), kwargs.pop("args")
        # cwd "/": no create field names a file of this host (a seccomp profile comes inline)
        opts = CreateOptions.parse(image, args, pull="never", cwd="/", environ={}, **kwargs)
        try:
            record = await self.b.call(self.containers.create, opts)
        except NotFound as err:
            if "image" in str(err).lower() or image in str(err):
                raise NotFound(f"No such image: {image}") from None
            raise
        return json_response({"Id": record["id"], "Warnings": []}, status=201)

    # -- life cycle ----------------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        record = await self._record(ref)
        if record["status"] in ("running", "paused"):
            return web.Response(status=304)
        pending = self.b.take_attach(record["id"])
        if pending is None:
            await self.b.call(self.containers.start, [record["id"]])
            return web.Response(status=204)
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()

        def on_started() -> None:
            loop.call_soon_threadsafe(lambda: started.done() or started.set_result(None))

        def run_attached() -> None:
            pending.ready.wait(_ATTACH_READY)
            stream = pending.stream
            try:
                if stream is None:  # its client left before the stream was up: a plain start
                    self.containers.start([record["id"]])
                    on_started()
                    return
                stdio = Stdio(stdin=stream.stdin if pending.stdin else None, stdout=stream.stdout,
                              stderr=stream.stderr)
                self.b.attached_runs.add(record["id"])
                try:
                    self.containers.start_attached(record["id"], stdio, interactive=pending.stdin,
                                                   on_started=on_started)
                finally:
                    self.b.attached_runs.discard(record["id"])
            except BaseException as err:  # noqa: BLE001 (reported to the start request or dropped with the stream)
                failure = err

                def fail() -> None:
                    if not started.done():
                        started.set_exception(failure)

                loop.call_soon_threadsafe(fail)
            finally:
                pending.done.set()

        # A thread of its own, not the pool: it lives as long as the container runs.
        threading.Thread(target=run_attached, name=f"pouchd-attached-{record['id'][:12]}", daemon=True).start()
        await self.b.until_stopping(started)
        if not started.done():
            raise Unavailable("pouchd is stopping")
        started.result()  # the start's own error (a missing program, a port taken) is the reply
        return web.Response(status=204)

    async def stop(self, request: web.Request) -> web.Response:
        ref = request.match_info["id"]
        record = await self._record(ref)
        if record["status"] not in ("running", "paused"):
            return web.Response(status=304)
        await self.b.call(self.containers.stop, [record["id"]], timeout=query_int(request, "t"),
                          signal=request.query.get("signal") or None)
        return web.Response(status=204)

    async def restart(self, request: web.Request) -> web.Response:
        record = await self._record(request.match_info["id"])
        await self.b.call(self.containers.restart, [record["id"]], timeout=query_int(request, "t"))
        return web.Response(status=204)

    async def kill(self, request: web.Request) -> web.Response:
        record = await self._record(request.match_info["id"])
        await self.b.call(self.containers.kill, [record["id"]], signal=request.query.get("signal") or "SIGKILL")
        return web.Response(status=204)

    async def pause(self, request: web.Request) -> web.Response:
        await self.b.call(self.containers.pause, [request.match_info["id"]])
        return web.Response(status=204)

    async def unpause(self, request: web.Request) -> web.Response:
        await self.b.call(self.containers.unpause, [request.match_info["id"]])
        return web.Response(status=204)

    async def delete(self, request: web.Request) -> web.Response:
        ref = request.match_info["id"]
        try:
            await self.b.call(self.containers.remove, [ref], force=query_bool(request, "force"),
                                        volumes=query_bool(request, "v"))
        except NotFound as err:
            raise _no_such_container(err, ref) from None
        return web.Response(status=204)

    async def prune(self, request: web.Request) -> web.Response:
        result = await self.b.call(self.containers.prune, filters=query_filters(request))
        return json_response({"ContainersDeleted": result["deleted"] or None,
                              "SpaceReclaimed": result["space_reclaimed"]})

    async def rename(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        if not name:
            raise InvalidArgument("rename: the name query parameter is required")
        await self.b.call(self.containers.rename, request.match_info["id"], name)
        return web.Response(status=204)

    async def update(self, request: web.Request) -> web.Response:
        body = await body_json(request)
        known = {"Memory", "NanoCpus", "PidsLimit", "RestartPolicy"}
        unknown = sorted(k for k, v in body.items() if k not in known and v not in (None, 0, "", [], {}))
        if unknown:
            raise InvalidArgument("pouchd does not support updating: " + ", ".join(unknown))
        restart = (body.get("RestartPolicy") or {}).get("Name") or None
        await self.b.call(
            self.containers.update, [request.match_info["id"]], memory=body.get("Memory") or None,
            cpus=(body["NanoCpus"] / 1e9) if body.get("NanoCpus") else None,
            pids_limit=body.get("PidsLimit") or None, restart=restart,
        )
        return json_response({"Warnings": []})

    async def resize(self, request: web.Request) -> web.Response:
        width, height = query_int(request, "w", 0), query_int(request, "h", 0)
        await self.b.call(self.containers.resize, request.match_info["id"], width or 0, height or 0)
        return web.Response(status=200)

    async def changes(self, request: web.Request) -> web.Response:
        """docker diff: the shell's ``diff`` records as docker's {Path, Kind} (0 changed, 1 added, 2 deleted)."""
        ref = request.match_info["id"]
        await self._record(ref)
        records = await self.b.call(self.containers.diff, ref)
        kinds = {"C": 0, "A": 1, "D": 2}
        return json_response([{"Path": r["path"], "Kind": kinds[r["kind"]]} for r in records])

    # -- stats -------------------------------------------------------------------------------------

    async def stats(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        record = await self._record(ref)
        stream = query_bool(request, "stream", default=True) and not query_bool(request, "one-shot")
        first = (await self.b.call(self.containers.stats, [record["id"]]))[0]
        if not stream:
            return json_response(_stats_shape(first, None))
        cancel = self.b.new_cancel()

        def samples() -> Iterator[bytes]:
            previous = first
            yield (json.dumps(_stats_shape(first, None)) + "\n").encode()
            # docker's stream: one sample a second, each with the one before as precpu
            while not cancel.wait(1.0):
                try:
                    current = self.containers.stats([record["id"]])[0]
                except PouchError:
                    return  # stopped or removed: the stream ends, as docker's does
                yield (json.dumps(_stats_shape(current, previous)) + "\n").encode()
                previous = current

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        await stream_iter(self.b.api, request, response, samples(), cancel)
        await response.write_eof()
        return response

    # -- wait --------------------------------------------------------------------------------------

    async def wait(self, request: web.Request) -> web.StreamResponse:
        condition = request.query.get("condition") or "not-running"
        if condition not in _WAIT_CONDITIONS:
            raise InvalidArgument(f"wait: condition {condition!r}: expected one of {', '.join(_WAIT_CONDITIONS)}")
        ref = request.match_info["id"]
        cancel = self.b.new_cancel()
        if condition == "not-running":
            # The common case (docker-py's wait after a start): the task's own Wait, no event stream;
            # not for an auto-remove container, whose task (and exit) another process may take first.
            record = await self._record(ref)
            if not record.get("auto_remove"):
                return await self._reply_wait(request, cancel, _wait_task, self.containers, record, cancel)
        # Subscribed before the state is read: an exit between the two is not lost.
        events = await self.b.call(self.b.facade.system.events, filters=["type=container"], cancel=cancel)
        try:
            record = await self._record(ref)
        except BaseException:
            cancel.set()  # the subscription's watchdog closes it (the generator never started)
            raise
        return await self._reply_wait(request, cancel, _wait_for, events, record, condition)

    async def _reply_wait(self, request: web.Request, cancel: threading.Event, wait: Any, *args: Any) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        # The headers go out now: `docker run` waits for them before it asks for the start.
        await response.prepare(request)
        try:
            code, error = await self.b.call(wait, *args)
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            cancel.set()
        await response.write((json.dumps({"Error": {"Message": error} if error else None, "StatusCode": code}) + "\n").encode())
        await response.write_eof()
        return response

    # -- logs ----------------------------------------------------------------------------------------

    async def logs(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        record = await self._record(ref)
        stdout, stderr = query_bool(request, "stdout"), query_bool(request, "stderr")
        if not stdout and not stderr:
            raise InvalidArgument("logs: you must choose at least one stream (stdout or stderr)")
        follow, timestamps = query_bool(request, "follow"), query_bool(request, "timestamps")
        tail_text = request.query.get("tail", "all")
        if tail_text in ("all", ""):
            tail = None
        elif tail_text.lstrip("-").isdigit():
            tail = int(tail_text)
        else:
            raise InvalidArgument(f"logs: tail={tail_text!r}: expected a number or all")
        since = request.query.get("since") or None
        if since in ("0",):
            since = None
        until = request.query.get("until") or None
        if until in ("0",):
            until = None
        cancel = self.b.new_cancel()
        entries = await self.b.call(self.containers.log_entries, record["id"], follow=follow, tail=tail,
                                    since=since, until=until, cancel=cancel)
        tty = bool(record.get("tty"))
        wanted = {"stdout"} if not stderr else ({"stderr"} if not stdout else {"stdout", "stderr"})

        def chunks() -> Iterator[bytes]:
            for entry in entries:
                if entry.stream not in wanted:
                    continue
                data = ((entry.stamp + " ") if timestamps else "").encode() + entry.text.encode()
                if tty:
                    yield data
                else:
                    yield struct.pack(">BxxxL", 1 if entry.stream == "stdout" else 2, len(data)) + data

        response = web.StreamResponse(status=200)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await stream_iter(self.b.api, request, response, chunks(), cancel)
        await response.write_eof()
        return response

    # -- attach --------------------------------------------------------------------------------------

    async def attach(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        record = await self._record(ref)
        await request.read()
        if not query_bool(request, "stream") and not query_bool(request, "logs"):
            raise InvalidArgument("attach: give stream=1 or logs=1")
        tty = bool(record.get("tty"))
        want_stdin = query_bool(request, "stdin")
        running = record["status"] in ("running", "paused")
        if not running and not query_bool(request, "stream"):
            raise ApiError(409, f"container {ref} is not running")
        if running or not query_bool(request, "stream"):
            stream = await hijack(request, tty=tty)
            try:
                await self.b.call(self._attach_running, record, stream, request)
            finally:
                stream.close()
            return stream.response
        # Registered before the 101 goes out: `docker run` may ask for the start as soon as it has it.
        pending = PendingAttach(stdin=want_stdin)
        self.b.add_attach(record["id"], pending)
        try:
            stream = await hijack(request, tty=tty)
            pending.attach(stream)
            await self.b.call(_wait_done, pending, stream, self.b.closing)
        finally:
            pending.abandon()
            self.b.drop_attach(record["id"], pending)
            if pending.stream is not None:
                pending.stream.close()
        return stream.response

    def _attach_running(self, record: dict[str, Any], stream: Hijacked, request: web.Request) -> None:
        """A running container's output from now on, live as the shell's ``attach`` gets it
        (managers.attach.follow_output); with ``logs=1`` its log first and then the log as it grows (one
        source, so nothing is repeated or missed between the two). Stdin cannot reach a detached task."""
        cancel = self.b.new_cancel()
        logs = query_bool(request, "logs")
        follow = query_bool(request, "stream")
        exit_future = None
        if follow and not logs:
            exit_future = self.containers.client.tasks.wait(record["id"])  # before following: not missed
            c = self.containers.resolver.get(record["id"])
            chunks: Iterator[tuple[str, bytes]] = follow_output(self.containers, c, exit_future, cancel)
        else:
            entries = self.containers.log_entries(record["id"], follow=follow, tail=None if logs else 0, cancel=cancel)
            chunks = ((e.stream, e.text.encode()) for e in entries)
        watcher = threading.Thread(target=_cancel_on_close, args=(stream, cancel), daemon=True)
        watcher.start()
        try:
            for name, data in chunks:
                (stream.stdout if name == "stdout" else stream.stderr).write(data)
        except OSError:
            pass
        finally:
            cancel.set()
            if exit_future is not None:
                exit_future.cancel()

    # -- archive (docker cp) -------------------------------------------------------------------------

    def _path(self, request: web.Request) -> str:
        path = request.query.get("path")
        if not path:
            raise InvalidArgument("archive: the path query parameter is required")
        if "\x00" in path:
            raise InvalidArgument("archive: path contains a NUL byte")
        return path

    async def _archive(self, request: web.Request) -> tuple[bytes, dict[str, Any]]:
        ref, path = request.match_info["id"], self._path(request)
        await self._record(ref)
        data = await self.b.call(_copy_out, self.containers, ref, path)
        return data, _stat_of(data, path)

    async def archive_head(self, request: web.Request) -> web.Response:
        _, stat = await self._archive(request)
        return web.Response(status=200, headers={"X-Docker-Container-Path-Stat": _stat_header(stat)})

    async def archive_get(self, request: web.Request) -> web.StreamResponse:
        data, stat = await self._archive(request)
        return web.Response(status=200, body=data, content_type="application/x-tar",
                            headers={"X-Docker-Container-Path-Stat": _stat_header(stat)})

    async def archive_put(self, request: web.Request) -> web.Response:
        ref, path = request.match_info["id"], self._path(request)
        data = await _read_limited(request, _MAX_ARCHIVE)
        await self.b.call(_copy_in, self.containers, ref, path, data)
        return web.Response(status=200)


    # -- export ----------------------------------------------------------------------------------------

    async def export(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["id"]
        await self._record(ref)
        cancel = self.b.new_cancel()
        pipe = _ChunkPipe(cancel)

        def produce() -> None:
            try:
                self.containers.export(ref, pipe)
            except BaseException as err:  # handed to the reader, which raises it in the request
                pipe.finish(err)
            else:
                pipe.finish(None)

        # Its own thread: an export lasts as long as the client reads, which must not hold a pool thread.
        threading.Thread(target=produce, name="pouchd-export", daemon=True).start()
        chunks = pipe.chunks()
        try:
            # The first chunk (or the error) before the headers: a mount or walk that fails at once is
            # still an error status.
            first = await self.b.call(next, chunks, b"")
        except BaseException:
            cancel.set()
            raise
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/x-tar"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if first:
            await response.write(first)
        await stream_iter(self.b.api, request, response, _until_end(chunks), cancel)
        await response.write_eof()
        return response


class _ChunkPipe(io.RawIOBase):
    """What a manager writes to, read as chunks by another thread; bounded, so a slow client slows the
    writer instead of filling memory; a set ``cancel`` (client gone, server stopping) fails the writer's
    next write."""

    _DEPTH = 16

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel = cancel
        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self._DEPTH)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while True:
            if self.cancel.is_set():
                raise BrokenPipeError("the client went away")
            try:
                self.queue.put(chunk, timeout=0.5)  # wakes to look at ``cancel``
                return len(chunk)
            except queue.Full:
                continue

    def finish(self, error: BaseException | None) -> None:
        """The writer is done (``error`` None) or failed; the reader ends or raises it."""
        while not self.cancel.is_set():
            try:
                self.queue.put(error, timeout=0.5)
                return
            except queue.Full:
                continue

    def chunks(self) -> Iterator[bytes]:
        while True:
            try:
                item = self.queue.get(timeout=0.5)  # wakes to look at ``cancel``: a gone writer puts nothing
            except queue.Empty:
                if self.cancel.is_set():
                    return
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def _until_end(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The rest of an export's chunks; an error after the headers can only end the stream (the tar is
    then cut short, which the client's tar reader reports)."""
    try:
        yield from chunks
    except (PouchError, OSError):
        return


#: the largest tar a cp upload may send (it is held in memory while it is extracted)
_MAX_ARCHIVE = 1 << 30


async def _read_limited(request: web.Request, limit: int) -> bytes:
    parts = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"archive larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _copy_out(containers: Any, ref: str, path: str) -> bytes:
    out = io.BytesIO()
    containers.copy(f"{ref}:{path}", "-", stdout=out)
    return out.getvalue()


def _copy_in(containers: Any, ref: str, path: str, data: bytes) -> None:
    containers.copy("-", f"{ref}:{path}", stdin=io.BytesIO(data))


def _cpu(sample: dict[str, Any] | None) -> dict[str, Any]:
    if sample is None:
        return {"cpu_usage": {"total_usage": 0, "percpu_usage": None, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0}, "system_cpu_usage": 0, "online_cpus": 0,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {"cpu_usage": {"total_usage": sample["cpu_ns"] or 0, "percpu_usage": None, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "system_cpu_usage": sample["system_cpu_ns"] or 0, "online_cpus": sample["online_cpus"],
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def _memory_limit(limit: int | None) -> int:
    """The cgroup's limit, or the host's memory when that is less (an unlimited cgroup says 2^63), as
    dockerd reports it."""
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(limit, host) if limit else host


def _stats_shape(sample: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """docker's stats JSON (cgroup figures containerd reports; the block-I/O and network lists empty)."""
    blkio = {k: None for k in ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                               "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                               "io_time_recursive", "sectors_recursive")}
    return {
        "read": sample["read"], "preread": previous["read"] if previous else "0001-01-01T00:00:00Z",
        "pids_stats": {"current": sample["pids"] or 0, **({"limit": sample["pids_limit"]} if sample["pids_limit"] else {})},
        "blkio_stats": blkio, "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(sample), "precpu_stats": _cpu(previous),
        "memory_stats": {"usage": sample["memory_bytes"] or 0, "stats": {}, "limit": _memory_limit(sample["memory_limit"])},
        "name": "/" + sample["name"], "id": sample["id"],
    }


def _stat_of(data: bytes, path: str) -> dict[str, Any]:
    """docker's path stat (a Go FileMode: permissions plus type bits high up) from the archive's first
    member, which is the path itself as cp wrote it."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        first = tar.next()
    if first is None:
        raise NotFound(f"Could not find the file {path} in container")
    mode = first.mode & 0o7777
    if first.isdir():
        mode |= 1 << 31
    elif first.issym():
        mode |= 1 << 27
    mtime = datetime.fromtimestamp(first.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"name": first.name.rstrip("/").rsplit("/", 1)[-1], "size": first.size, "mode": mode,
            "mtime": mtime, "linkTarget": first.linkname}


def _stat_header(stat: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()


def _cancel_on_close(stream: Hijacked, cancel: threading.Event) -> None:
    """Sets ``cancel`` once the client has gone away altogether (a quiet container writes nothing that
    would tell us)."""
    while not cancel.wait(0.5):
        if _peer_gone(stream):
            cancel.set()


def _wait_done(pending: PendingAttach, stream: Hijacked, closing: threading.Event) -> None:
    """Until the attached run has ended, the client has gone (before the start, or during the run: the
    container goes on, its output into the log), or the server stops."""
    while not pending.done.wait(0.5):
        if closing.is_set() or _peer_gone(stream):
            return


def _peer_gone(stream: Hijacked) -> bool:
    """Whether the client has closed the connection entirely (a half-close of its write side is not
    that: `docker run` without -i half-closes at once)."""
    try:
        readable, _, errored = select.select([stream.sock], [], [stream.sock], 0)
    except (OSError, ValueError):
        return True
    if errored:
        return True
    if not readable:
        return False
    try:
        peeked = stream.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    if peeked:
        return False
    # EOF: the client half-closed (or closed). A closed peer answers a write with EPIPE/ECONNRESET.
    try:
        stream.sock.send(b"", socket.MSG_DONTWAIT)
    except OSError:
        return True
    return False


def _wait_task(containers: Any, record: dict[str, Any], cancel: threading.Event) -> tuple[int, str | None]:
    if record["status"] not in ("running", "paused"):
        return record.get("exit_code") or 0, None
    try:
        return containers.wait([record["id"]], cancel=cancel)[0], None
    except NotFound:
        return record.get("exit_code") or 0, None  # removed meanwhile (--rm): its exit went with it
    except PouchError as err:
        return -1, str(err)


def _wait_for(events: Any, record: dict[str, Any], condition: str) -> tuple[int, str | None]:
    """The exit status ``condition`` waits for, from the container's state then its events."""
    cid = record["id"]
    code = record.get("exit_code") or 0
    running = record["status"] in ("running", "paused")
    try:
        if condition == "not-running" and not running:
            return code, None
        for event in events:
            if event["id"] != cid:
                continue
            if event["action"] == "die":
                try:
                    code = int(event["attributes"].get("exit_code", 0))
                except ValueError:
                    code = -1
                if condition != "removed":
                    return code, None
            elif event["action"] == "destroy":
                return code, None
        return -1, "the event stream ended"
    except PouchError as err:
        return -1, str(err)
    finally:
        events.close()
