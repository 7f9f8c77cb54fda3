"""The registry transport against hostile HTTP servers on loopback (no containerd needed): redirects,
token services and registries that stall are bounded, and credentials never follow a redirect."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ctrd.errors import InvalidArgument, PouchRuntimeError, Timeout
from managers import transport
from managers.registry import Registry

Handler = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback HTTP server whose every request goes to ``handle``; it records each request's headers."""

    def __init__(self, handle: Handler) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                server.seen.append((self.path, dict(self.headers.items())))
                handle(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _any

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self._http.handle_error = lambda *a: None  # type: ignore[method-assign] - clients hang up on purpose
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._http.server_address[1]}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def reply(
    h: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


@pytest.fixture
def servers() -> Iterator[Callable[[Handler], Server]]:
    made: list[Server] = []

    def make(handle: Handler) -> Server:
        made.append(Server(handle))
        return made[-1]

    yield make
    for s in made:
        s.close()


def basic_then(next_step: Handler) -> Handler:
    """Ask for Basic credentials, then do ``next_step`` for requests that carry them."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        if not h.headers.get("Authorization"):
            reply(h, 401, {"WWW-Authenticate": 'Basic realm="x"'})
        else:
            next_step(h)

    return handle


def test_credentials_do_not_follow_a_redirect_to_another_host(servers) -> None:
    other = servers(lambda h: reply(h, 404, body=b"{}"))
    first = servers(basic_then(lambda h: reply(h, 307, {"Location": f"http://{other.address}/elsewhere"})))
    reg = Registry(first.address, credentials=lambda _d: ("alice", "s3cret-pw"))
    with pytest.raises(Exception):
        reg.get_manifest("r", "1")
    assert any("Authorization" in headers for _, headers in first.seen)
    assert other.seen and all("Authorization" not in headers for _, headers in other.seen)


def test_a_redirect_loop_is_bounded(servers) -> None:
    loop = servers(lambda h: reply(h, 302, {"Location": h.path + "x"}))
    with pytest.raises(PouchRuntimeError, match="redirects"):
        Registry(loop.address).get_manifest("r", "1")
    assert len(loop.seen) <= transport.MAX_REDIRECTS + 2  # the scheme probe, then the bounded chain


def test_plain_http_is_refused_to_a_host_that_is_not_insecure(servers) -> None:
    target = servers(lambda h: reply(h, 200))
    first = servers(lambda h: reply(h, 307, {"Location": f"http://{target.address}/v2/"}))
    policy = lambda host: host == first.address  # noqa: E731 - the target is treated as a secure host
    with pytest.raises(PouchRuntimeError, match="refusing plain HTTP"):
        transport.request("GET", f"http://{first.address}/v2/", policy=policy)
    assert target.seen == []


def test_a_token_service_that_never_finishes_is_cut_off(servers, monkeypatch) -> None:
    monkeypatch.setattr(transport, "BODY_DEADLINE", 1.0)
    stop = threading.Event()

    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(1 << 20))
        h.end_headers()
        while not stop.is_set():  # a byte every 50 ms: never a read timeout, never an end
            h.wfile.write(b" ")
            h.wfile.flush()
            stop.wait(0.05)

    token = servers(trickle)
    challenge = f'Bearer realm="http://{token.address}/token",service="s"'
    reg_server = servers(lambda h: reply(h, 401, {"WWW-Authenticate": challenge}))
    try:
        with pytest.raises(Timeout, match="token answer"):
            Registry(reg_server.address).get_manifest("r", "1")
    finally:
        stop.set()


def test_a_huge_token_answer_is_refused(servers) -> None:
    huge = b'{"token":"' + b"a" * (2 << 20) + b'"}'
    token = servers(lambda h: reply(h, 200, {"Content-Type": "application/json"}, huge))
    challenge = f'Bearer realm="http://{token.address}/token",service="s"'
    reg_server = servers(lambda h: reply(h, 401, {"WWW-Authenticate": challenge}))
    with pytest.raises(InvalidArgument, match="larger than"):
        Registry(reg_server.address).get_manifest("r", "1")


def test_a_registry_that_never_answers_times_out(servers, monkeypatch) -> None:
    import httpx

    monkeypatch.setattr(transport, "TIMEOUT", httpx.Timeout(1.0))
    stop = threading.Event()
    silent = servers(lambda h: stop.wait(60))
    try:
        with pytest.raises(Timeout):
            Registry(silent.address).get_manifest("r", "1")
    finally:
        stop.set()


def test_a_token_that_says_it_lives_zero_seconds_does_not_make_every_request_fetch_one(servers) -> None:
    answer = b'{"token":"t","expires_in":0}'
    grants = servers(lambda h: reply(h, 200, {"Content-Type": "application/json"}, answer))
    challenge = f'Bearer realm="http://{grants.address}/token",service="s"'

    def registry(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") == "Bearer t":
            reply(h, 200, {"Content-Type": "application/json", "Docker-Content-Digest": "x"}, b"{}")
        else:
            reply(h, 401, {"WWW-Authenticate": challenge})

    reg = Registry(servers(registry).address)
    for _ in range(20):
        reg.get_manifest("r", "1")
    assert reg.auth.token_fetches == 1
