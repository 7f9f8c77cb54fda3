"""pouchd's HTTP layer: routing (versioned ``/v1.xx/…`` and unprefixed paths), the headers every reply
carries, the query and body helpers, streams, and the thread pool that keeps blocking manager calls off the
event loop. What a request means is the bridge's (pouchd.bridge and its modules); errors become statuses
in pouchd.errors only."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from ctrd.errors import InvalidArgument
from pouchd.errors import ApiError, error_response

__all__ = [
    "API_VERSION",
    "MIN_API_VERSION",
    "Api",
    "body_json",
    "query_bool",
    "query_int",
]

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
#: the largest JSON body pouchd reads (a create body is a few KiB; tar uploads stream instead)
MAX_JSON_BODY = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

_VERSION = re.compile(r"^1\.(\d+)$")


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


class Api:
    """The aiohttp application with pouchd's routing and the pool manager calls run in."""

    def __init__(self, *, workers: int = 256, server_name: str = "pouchd") -> None:
        # Long calls (attach, logs -f, events, wait) each hold a thread for their whole life: the pool is
        # large so that they never starve the short ones.
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pouchd")
        self.server_name = server_name
        self.app = web.Application(middlewares=[self._middleware], client_max_size=MAX_JSON_BODY)
        self.app.on_response_prepare.append(self._common_headers)

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``path`` unprefixed and under ``/v{version}``; both reach ``handler``."""
        self.app.router.add_route(method, path, handler)
        self.app.router.add_route(method, "/v{version:[0-9.]+}" + path, handler)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking manager call in the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    async def _common_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Api-Version"] = API_VERSION
        response.headers["Docker-Experimental"] = "false"
        response.headers["Ostype"] = "linux"
        response.headers["Server"] = f"{self.server_name} (linux)"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        version = request.match_info.get("version")
        try:
            if version is not None:
                _check_version(version)
            return await handler(request)
        except web.HTTPException as http:
            if http.status in (404, 405):
                return error_response(ApiError(http.status, "page not found" if http.status == 404
                                               else f"{request.method} is not allowed on {request.path}"))
            if http.status == 413:
                return error_response(ApiError(413, "request body too large"))
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as err:  # noqa: BLE001 (every error becomes a status and a {"message"}: pouchd.errors)
            return error_response(err)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _check_version(version: str) -> None:
    if not _VERSION.match(version):
        raise ApiError(400, f"invalid API version {version!r}")
    asked = _version_tuple(version)
    if asked > _version_tuple(API_VERSION):
        raise ApiError(400, f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    if asked < _version_tuple(MIN_API_VERSION):
        raise ApiError(400, f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, "
                            "please upgrade your client to a newer version")


# -- query and body helpers ------------------------------------------------------------------------------


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """docker's query booleans: the CLI sends ``1`` (and omits false), docker-py ``True``/``False``."""
    value = request.query.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise InvalidArgument(f"query parameter {name}={value!r}: expected a boolean")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"query parameter {name}={value!r}: expected an integer") from None


def query_filters(request: web.Request) -> list[str]:
    """The ``filters`` query (JSON: ``{"key": ["v", …]}`` or the old ``{"key": {"v": true}}``) as the
    managers' ``key=value`` strings."""
    raw = request.query.get("filters")
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidArgument(f"filters: not JSON: {raw[:200]!r}") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument("filters: expected a JSON object of lists")
    out: list[str] = []
    for key, values in parsed.items():
        if isinstance(values, dict):
            values = [v for v, on in values.items() if on]
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"filters: {key}: expected a list of strings")
        out += [f"{key}={v}" for v in values]
    return out


async def body_json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (an empty body is ``{}`` unless ``required``)."""
    data = await request.read()
    if not data.strip():
        if required:
            raise InvalidArgument("a JSON request body is required")
        return {}
    try:
        parsed = json.loads(data)
    except RecursionError:  # deeper than the parser's stack: no request body is shaped like that
        raise InvalidArgument("malformed JSON body: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"malformed JSON body: {err}") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return parsed


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=(json.dumps(value) + "\n").encode(),
                        headers={"Content-Type": "application/json"})


async def stream_iter(
    api: Api, request: web.Request, response: web.StreamResponse, items: Iterator[bytes],
    cancel: threading.Event | None = None,
) -> None:
    """Write each chunk a blocking iterator yields as it comes; a client that goes away sets ``cancel``
    and closes the iterator (its generator's cleanup runs), without leaving the server."""
    sentinel = object()
    try:
        while True:
            chunk = await api.call(next, items, sentinel)
            if chunk is sentinel:
                break
            await response.write(chunk)  # type: ignore[arg-type]
    except (ConnectionResetError, asyncio.CancelledError):
        if cancel is not None:
            cancel.set()
        raise
    finally:
        if cancel is not None:
            cancel.set()
        close = getattr(items, "close", None)
        if close is not None:
            try:
                await api.call(close)
            except ValueError:
                pass  # still running in the pool after a disconnect: ``cancel`` ends it there
