"""Exec endpoints: create (kept by pouchd until started), start (hijacked stream, or detached),
inspect and resize. The process itself is the container manager's ``exec``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import struct
import threading
from typing import Any

from aiohttp import web

from ctrd.errors import Conflict, InvalidArgument, NotFound
from managers.console import Stdio
from pouchd.bridge.context import Bridge, ExecRecord
from pouchd.hijack import RAW_STREAM, hijack
from pouchd.server import body_json, json_response, query_int

__all__ = ["install"]

#: execs kept for inspect after they ended (the oldest ended ones go first beyond it)
_KEEP = 1000
#: a streamed exec's chunk not taken by its client in this long: the client is gone
_WRITE_DEADLINE = 300.0


def install(b: Bridge) -> None:
    h = _Handlers(b)
    b.route("POST", "/containers/{id}/exec", h.create)
    b.route("POST", "/exec/{id}/start", h.start)
    b.route("GET", "/exec/{id}/json", h.inspect)
    b.route("POST", "/exec/{id}/resize", h.resize)


class _Handlers:
    def __init__(self, b: Bridge) -> None:
        self.b = b
        self._lock = threading.Lock()

    def _get(self, exec_id: str) -> ExecRecord:
        record = self.b.execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    async def create(self, request: web.Request) -> web.Response:
        body = await body_json(request)
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise InvalidArgument("exec: Cmd must be a non-empty list of strings")
        env = body.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise InvalidArgument("exec: Env must be a list of strings")
        for key in ("DetachKeys", "ConsoleSize"):
            if body.get(key) not in (None, "", [0, 0]):
                raise InvalidArgument(f"exec: {key} is not supported by pouchd")
        record = await self.b.call(self.b.facade.containers.inspect, request.match_info["id"])
        if record["status"] != "running":
            raise Conflict(f"Container {record['id']} is not running")
        exec_id = secrets.token_hex(32)
        with self._lock:
            if len(self.b.execs) >= _KEEP:
                for old in [k for k, v in self.b.execs.items() if v.started and not v.running][: len(self.b.execs) // 2]:
                    del self.b.execs[old]
            self.b.execs[exec_id] = ExecRecord(id=exec_id, container_id=record["id"], config=dict(body, Cmd=cmd))
        return json_response({"Id": exec_id}, status=201)

    async def start(self, request: web.Request) -> web.StreamResponse:
        record = self._get(request.match_info["id"])
        body = await body_json(request, required=False)
        with self._lock:
            if record.started:
                raise Conflict(f"exec {record.id} has already been started")
            record.started = True
            record.running = True
        config = record.config
        tty = bool(body.get("Tty", config.get("Tty")))
        stdin = bool(config.get("AttachStdin"))
        kwargs: dict[str, Any] = {
            "tty": tty, "interactive": stdin, "env": list(config.get("Env") or []),
            "workdir": config.get("WorkingDir") or None, "user": config.get("User") or None,
            "privileged": bool(config.get("Privileged")), "exec_suffix": record.id[:32],
        }
        containers = self.b.facade.containers
        if body.get("Detach"):
            try:
                await self.b.call(containers.exec, record.container_id, config["Cmd"], detach=True, **kwargs)
            except BaseException:
                record.running = False
                raise
            record.running = False  # not followed from here: its exit status stays unknown (null)
            return web.Response(status=200)
        if not stdin and "upgrade" not in request.headers.get("Connection", "").lower():
            return await self._start_streamed(request, record, config["Cmd"], tty, kwargs)
        stream = await hijack(request, tty=tty)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def run() -> None:
            stdio = Stdio(stdin=stream.stdin if stdin else None, stdout=stream.stdout, stderr=stream.stderr,
                          size=record.size)
            try:
                record.exit_code = containers.exec(record.container_id, config["Cmd"], stdio=stdio, **kwargs)
            except Exception as err:  # noqa: BLE001 (the stream is open: the client can only read the error there)
                # the managers read runc's report: 127 not found, 126 cannot be invoked (docker's statuses)
                record.exit_code = getattr(err, "exit_status", None) or 1
                try:
                    stream.stderr.write(f"pouchd: {err}\n".encode())
                except OSError:
                    pass
            finally:
                record.running = False
                stream.close()
                loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))

        # A thread of its own, not the pool: it lives as long as the process does, and a server that
        # stops leaves the process running, as an attached run's container does.
        threading.Thread(target=run, name=f"pouchd-exec-{record.id[:12]}", daemon=True).start()
        await self.b.until_stopping(ended)
        stream.close()  # the server stops: the process goes on without its client
        return stream.response

    async def _start_streamed(self, request: web.Request, record: ExecRecord, cmd: list[str], tty: bool,
                              kwargs: dict[str, Any]) -> web.StreamResponse:
        """An exec without stdin for a client that did not ask to upgrade (pouchsh's pouchd contexts):
        its output as the body of a chunked 200, written through aiohttp's transport. The hijacked
        stream writes on a copy of the raw socket, which over TLS is below the TLS layer."""
        response = web.StreamResponse(status=200)
        response.content_type = RAW_STREAM
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        lock = threading.Lock()
        stdout, stderr = _LoopWriter(loop, response, lock, None if tty else 1), _LoopWriter(loop, response, lock, None if tty else 2)
        ended: asyncio.Future[None] = loop.create_future()
        containers = self.b.facade.containers

        def run() -> None:
            try:
                record.exit_code = containers.exec(record.container_id, cmd, stdio=Stdio(
                    stdin=None, stdout=stdout, stderr=stderr, size=record.size), **kwargs)
            except Exception as err:  # noqa: BLE001 (the body has begun: the client can only read the error there)
                record.exit_code = getattr(err, "exit_status", None) or 1
                try:
                    stderr.write(f"pouchd: {err}\n".encode())
                except OSError:
                    pass
            finally:
                record.running = False
                loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))

        threading.Thread(target=run, name=f"pouchd-exec-{record.id[:12]}", daemon=True).start()
        await self.b.until_stopping(ended)
        if ended.done():
            await response.write_eof()
        return response

    async def inspect(self, request: web.Request) -> web.Response:
        record = self._get(request.match_info["id"])
        config = record.config
        cmd = list(config["Cmd"])
        return json_response({
            "ID": record.id, "Running": record.running,
            # null while it runs, and for a detached exec, whose end pouchd does not follow
            "ExitCode": record.exit_code,
            "ProcessConfig": {"tty": bool(config.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                              "privileged": bool(config.get("Privileged")), "user": config.get("User") or ""},
            "OpenStdin": bool(config.get("AttachStdin")), "OpenStderr": bool(config.get("AttachStderr")),
            "OpenStdout": bool(config.get("AttachStdout")), "CanRemove": False,
            "ContainerID": record.container_id, "DetachKeys": "", "Pid": 0,
        })

    async def resize(self, request: web.Request) -> web.Response:
        record = self._get(request.match_info["id"])
        if not record.running:
            raise Conflict(f"exec {record.id} is not running")
        width, height = query_int(request, "w", 0) or 0, query_int(request, "h", 0) or 0
        if not (0 < width <= 65535 and 0 < height <= 65535):
            raise InvalidArgument(f"resize: bad terminal size {width}x{height}")
        # The client resizes right after the start, often before the process's pty exists (which the
        # shim would drop without an error): the size is kept and applied when the pty is there.
        await self.b.call(record.size.set, width, height)
        return web.Response(status=200)


class _LoopWriter:
    """One stream of a streamed exec, for the exec's output pumps (threads): each write is a chunk of the
    response, written on the loop and waited for (the pump's backpressure); a client gone is an OSError,
    as a hijacked stream's closed socket is."""

    def __init__(self, loop: asyncio.AbstractEventLoop, response: web.StreamResponse, lock: threading.Lock,
                 stream: int | None) -> None:
        self._loop = loop
        self._response = response
        self._lock = lock  # stdout's and stderr's pumps: one chunk at a time
        self._stream = stream

    def write(self, data: Any) -> int:
        if not data:
            return 0
        chunk = bytes(data) if self._stream is None else struct.pack(">BxxxL", self._stream, len(data)) + bytes(data)
        with self._lock:
            written = asyncio.run_coroutine_threadsafe(self._response.write(chunk), self._loop)
            try:
                written.result(_WRITE_DEADLINE)
            except (ConnectionError, RuntimeError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as e:
                written.cancel()
                raise BrokenPipeError(f"exec's client went away: {e or type(e).__name__}") from None
        return len(data)

    def flush(self) -> None:
        pass
