"""pouchd contexts: a context that is a pouchd's Docker API (tcp:// with mutual TLS, or a unix socket),
fanned out to with containerd contexts alike (``ps --context all``), against a real pouchd on loopback;
and the client's refusals: TLS that is not mutual or not verified, and a hostile server's replies."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.pouchd.conftest import REPO
from tests.pouchd.test_tls import _certificates
from tests.support.poll import poll

pytestmark = [pytest.mark.containerd,
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")]


@dataclass
class TlsPouchd:
    port: int
    certs: Path
    namespace: str
    #: the same pouchd's unix socket too
    socket: Path

    def create_args(self, certs: Path | None = None) -> str:
        d = certs or self.certs
        return (f"--address tcp://127.0.0.1:{self.port} --tlscacert {d / 'ca.pem'} --tlscert {d / 'client.pem'} "
                f"--tlskey {d / 'client-key.pem'}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pouchd_tls(containerd_address: str, ctrd_client: Any, busybox_layout: Path) -> Iterator[TlsPouchd]:
    """A pouchd on 127.0.0.1 with mutual TLS (certificates from a test CA), on its own namespace of the
    suite's containerd with busybox in it."""
    from ctrd.imports import import_oci_layout
    from tests.pouchd.conftest import _detach_all
    from tests.support.cleanup import purge_namespace

    home = Path(tempfile_dir())
    certs = home / "certs"
    certs.mkdir()
    _certificates(certs)
    for key in certs.glob("*-key.pem"):
        key.chmod(0o600)
    namespace = f"pdctx-{uuid.uuid4().hex[:6]}"
    ctrd_client.namespaces.create(namespace, {"pouchsh.test": __name__})
    import_oci_layout(ctrd_client.with_namespace(namespace), busybox_layout)
    root, run = home / "root", home / "run"
    port = _free_port()
    env = {**os.environ, "POUCHSH_ROOT": str(root), "POUCHSH_RUN": str(run)}
    env.pop("CONTAINERD_NAMESPACE", None)
    log = (home / "pouchd.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "pouchd", "--address", containerd_address, "-n", namespace,
         "-H", f"tcp://127.0.0.1:{port}", "-H", f"unix://{home / 'pouchd.sock'}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
         "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem")],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (home / "pouchd.log").read_text()[-2000:]
                time.sleep(0.05)
        poll(lambda: (home / "pouchd.sock").exists(), "pouchd's unix socket")
        yield TlsPouchd(port=port, certs=certs, namespace=namespace, socket=home / "pouchd.sock")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        _detach_all(containerd_address, namespace, root, run)
        problems = purge_namespace(ctrd_client, namespace)
        shutil.rmtree(home, ignore_errors=True)
        assert not problems, problems


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="pdc-", dir="/tmp")


def test_a_pouchd_context_fans_out_with_containerd_contexts(fleet_shell, pouchd_tls) -> None:
    (made,) = fleet_shell.value(f"context create pd {pouchd_tls.create_args()}")
    assert (made["kind"], made["tls"], made["address"]) == ("pouchd", True, f"tcp://127.0.0.1:{pouchd_tls.port}")
    (web,) = fleet_shell.value("run -d --network none --name web --label role=front --context pd "
                               "busybox sh -c 'echo out; echo err >&2; exec sleep 300'")
    assert len(web) == 1 and web[0]["context"] == "pd" and web[0]["name"] == "web"
    assert web[0]["status"] == "running" and web[0]["labels"] == {"role": "front"}
    fleet_shell.run("run -d --network none --context a,pd busybox true")
    assert fleet_shell.err == ""

    def ps() -> list[dict]:
        (rows,) = fleet_shell.value("ps -a --context all")
        return rows

    def two_exited() -> list[dict] | None:
        rows = ps()
        return rows if sum(r["status"] == "exited" for r in rows) == 2 else None

    rows = poll(two_exited, "the two true containers to exit")
    assert sorted(r["context"] for r in rows) == ["a", "pd", "pd"]
    # The pouchd's records are pouchsh's ps records, tagged like any context's.
    assert {r["context"]: set(r) for r in rows}["pd"] >= {"id", "name", "image", "status", "state", "created", "labels"}
    (text,) = fleet_shell.value("logs --context pd web")
    assert sorted(text[0]["value"].splitlines()) == ["err", "out"]
    (text,) = fleet_shell.value("logs --context pd --since 1h -n 1 web")
    assert text[0]["value"] in ("out", "err")
    (text,) = fleet_shell.value("logs --context pd --until 2000-01-01T00:00:00Z web")
    assert text[0]["value"] == ""
    (quiet,) = fleet_shell.value("ps -a -q --filter name=web --context pd")
    assert quiet == [{"context": "pd", "value": web[0]["id"][:12]}]
    # logs -f follows until the container ends.
    fleet_shell.run("run -d --network none --name once --context pd busybox sh -c 'echo a; sleep 1; echo b'")
    (followed,) = fleet_shell.value("logs -f --context pd once")
    assert [v["value"] for v in followed] == ["a", "b"]
    fleet_shell.run("rm -f --context pd once")
    (status,) = fleet_shell.value("inspect --context pd web | get status")
    assert status == ["running"]
    (images,) = fleet_shell.value("images --context pd")
    assert any(i["repository"].endswith("busybox") for i in images)
    # Piped records go back to their context: the exited ones on a and on the pouchd are removed there.
    fleet_shell.run("ps -a --context all | where status == exited | rm")
    assert fleet_shell.err == ""
    assert [(r["context"], r["name"]) for r in ps()] == [("pd", "web")]
    fleet_shell.run("rm -f --context pd web")
    assert ps() == []


def test_what_a_pouchd_context_does_not_serve_is_refused(fleet_shell, pouchd_tls) -> None:
    from ctrd.errors import InvalidArgument, PouchError, Unavailable

    fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
    with pytest.raises(Unavailable, match="context pd: a pouchd .*containers pause is not served"):
        fleet_shell.run("pause --context pd nothing")
    with pytest.raises(Unavailable, match="its system are not reached"):
        fleet_shell.run("system df --context pd")
    with pytest.raises(Unavailable, match="with -d"):  # a foreground run needs this host's FIFOs
        fleet_shell.run("run --network none --context pd busybox true")
    with pytest.raises(InvalidArgument, match="--volumes is not sent"):  # never dropped silently
        fleet_shell.run("run -d -v /etc:/host --context pd busybox true")
    with pytest.raises(InvalidArgument, match="a session cannot run on it"):
        fleet_shell.run("context use pd")
    with pytest.raises(PouchError, match="pouchd"):
        fleet_shell.run("pull --context pd 127.0.0.1:1/nothing/here:1")
    with pytest.raises(InvalidArgument, match="not a name, id or reference"):
        fleet_shell.run("inspect --context pd ../../images/json")
    (rows,) = fleet_shell.value("ps -a --context pd")
    assert rows == []  # none of it made anything


def test_tls_is_mutual_and_verified(fleet_shell, pouchd_tls, tmp_path) -> None:
    from ctrd.errors import InvalidArgument, Unavailable

    other = tmp_path / "other"
    other.mkdir()
    _certificates(other)
    for key in other.glob("*-key.pem"):
        key.chmod(0o600)
    port = pouchd_tls.port
    # No TLS files, or only some: refused when the context is made.
    with pytest.raises(InvalidArgument, match="mutual TLS"):
        fleet_shell.run(f"context create bare --address tcp://127.0.0.1:{port}")
    with pytest.raises(InvalidArgument, match="go together"):
        fleet_shell.run(f"context create half --address tcp://127.0.0.1:{port} --tlscacert {pouchd_tls.certs / 'ca.pem'}")
    # A key others can read is refused (whoever reads it drives the pouchd).
    loose = tmp_path / "loose-key.pem"
    loose.write_bytes((pouchd_tls.certs / "client-key.pem").read_bytes())
    loose.chmod(0o644)
    with pytest.raises(InvalidArgument, match="another user"):
        fleet_shell.run(f"context create loose --address tcp://127.0.0.1:{port} --tlscacert {pouchd_tls.certs / 'ca.pem'} "
                        f"--tlscert {pouchd_tls.certs / 'client.pem'} --tlskey {loose}")
    # The server is verified against the context's CA: another CA's is refused.
    fleet_shell.run(f"context create wrongca --address tcp://127.0.0.1:{port} --tlscacert {other / 'ca.pem'} "
                    f"--tlscert {pouchd_tls.certs / 'client.pem'} --tlskey {pouchd_tls.certs / 'client-key.pem'}")
    assert fleet_shell.err == ""
    with pytest.raises(Unavailable, match="TLS failed: pouchd's certificate is not signed by the context's CA"):
        fleet_shell.run("ps --context wrongca")
    # And the client is verified by the pouchd: a certificate its CA did not sign gets nothing.
    fleet_shell.run(f"context create stranger --address tcp://127.0.0.1:{port} --tlscacert {pouchd_tls.certs / 'ca.pem'} "
                    f"--tlscert {other / 'client.pem'} --tlskey {other / 'client-key.pem'}")
    with pytest.raises(Unavailable):
        fleet_shell.run("ps --context stranger")
    # One unreachable pouchd among the fan-out's contexts is reported and hides nothing.
    fleet_shell.run(f"context create gone --address tcp://127.0.0.1:{_free_port()} "
                    f"--tlscacert {pouchd_tls.certs / 'ca.pem'} --tlscert {pouchd_tls.certs / 'client.pem'} "
                    f"--tlskey {pouchd_tls.certs / 'client-key.pem'}")
    fleet_shell.run("run -d --network none --context a busybox sleep 300")
    (rows,) = fleet_shell.value("ps --context a,gone")
    assert [r["context"] for r in rows] == ["a"]
    assert "error[unavailable]: context gone" in fleet_shell.err


class _Hostile:
    """An HTTP server on a unix socket that answers as a malicious pouchd would."""

    def __init__(self, path: str) -> None:
        import http.server
        import json
        import socketserver
        import struct
        import threading

        good = "a" * 64
        listing = json.dumps([
            {"Id": good, "Names": ["/ok"], "Image": "busybox", "State": "exited", "Status": "Exited (3) 1 second ago",
             "Created": 1700000000, "Labels": {"k": "v", "n": 5}, "Ports": [{"PrivatePort": "x"}, 7]},
            {"Id": "../../images/json", "Names": ["/evil"]},
            {"Id": 5}, "junk", None,
            {"Id": "b" * 64, "Names": [7], "State": "pwned", "Created": "yesterday", "Labels": ["x"],
             "NetworkSettings": {"Networks": ["not", "a", "map"]}},
        ]).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "hostile"

            def reply(self, status: int, body: bytes, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/v1.41/containers/json":
                    self.reply(200, listing)
                elif path == f"/v1.41/containers/{good}/json" or path == "/v1.41/containers/ok/json":
                    self.reply(200, json.dumps({"Id": good, "Config": {"Tty": False}}).encode())
                elif path == "/v1.41/containers/slash/json":  # an id that would add a path segment
                    self.reply(200, json.dumps({"Id": "abcdef0123456/kill", "Config": {}}).encode())
                elif path == f"/v1.41/containers/{good}/logs":
                    self.reply(200, struct.pack(">BxxxL", 9, 3) + b"abc")
                elif path == "/v1.41/images/json":
                    big = b"[" + b'"x",' * (9 << 20) + b'"x"]'  # ~36 MiB
                    self.reply(200, big)
                elif path == "/v1.41/volumes":
                    self.reply(200, json.dumps({"Volumes": [
                        {"Name": "../../x"}, 7, {"Name": "v", "Labels": {"a": 1}, "Mountpoint": 5, "Driver": ["x"]},
                    ]}).encode())
                elif path == "/v1.41/networks":
                    self.reply(200, json.dumps([
                        {"Name": "n", "Id": "../c"}, {"Name": "net", "Id": "c" * 64, "IPAM": {"Config": ["x"]},
                         "Internal": "yes", "Options": {"com.docker.network.bridge.name": 3},
                         "Containers": {"../x": {"Name": "evil"}, "d" * 64: {"Name": 5}, "e" * 64: "x"}},
                    ]).encode())
                else:
                    self.reply(404, json.dumps({"message": "no such thing \x1b]0;pwned\x07\x1b[31m" + "y" * 5000}).encode())

            def do_POST(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == f"/v1.41/containers/{good}/wait":
                    self.reply(200, json.dumps({"StatusCode": "0; reboot"}).encode())
                elif path == f"/v1.41/containers/{good}/exec":
                    self.reply(201, json.dumps({"Id": "../../containers/" + good}).encode())
                elif path == f"/v1.41/containers/{good}/kill":
                    self.reply(204, b"")
                else:
                    self.reply(500, b"{}")

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_hostile_pouchd_is_data_not_instructions(fleet_shell) -> None:
    """A malicious server's records are taken only field by field with their types, its error text cut
    short and stripped of control characters, its log framing and body size bounded."""
    import tempfile

    from ctrd.errors import InvalidArgument, NotFound, PouchRuntimeError

    base = Path(tempfile.mkdtemp(prefix="ph-", dir="/tmp"))
    server = _Hostile(str(base / "p.sock"))
    try:
        fleet_shell.run(f"context create hostile --pouchd --address unix://{base / 'p.sock'}")
        (rows,) = fleet_shell.value("ps -a --context hostile")
        assert [r["id"] for r in rows] == ["a" * 64, "b" * 64]  # the ones without a usable id are dropped
        ok, odd = rows
        assert (ok["name"], ok["status"], ok["exit_code"], ok["labels"], ok["ports"]) == ("ok", "exited", 3, {"k": "v"}, [])
        assert (odd["name"], odd["status"], odd["created"], odd["labels"], odd["networks"]) == ("", "unknown", "", {}, [])
        with pytest.raises(NotFound) as caught:
            fleet_shell.run("inspect --context hostile nothing")
        message = caught.value.message
        assert "\x1b" not in message and "\x07" not in message and len(message) < 1200
        with pytest.raises(PouchRuntimeError, match="framing"):
            fleet_shell.run("logs --context hostile ok")
        with pytest.raises(InvalidArgument, match="larger than"):
            fleet_shell.run("images --context hostile")
        for verb in ("stop", "rm -f", "wait", "exec"):
            with pytest.raises(PouchRuntimeError, match="not a container id"):
                fleet_shell.run(f"{verb} --context hostile slash" + (" true" if verb == "exec" else ""))
        with pytest.raises(PouchRuntimeError, match="no exit status"):
            fleet_shell.run("wait --context hostile ok")
        with pytest.raises(PouchRuntimeError, match="no exec id"):  # never sent back as a path
            fleet_shell.run("exec --context hostile ok true")
        (killed,) = fleet_shell.value("kill --context hostile ok")
        assert [k["id"] for k in killed] == ["a" * 64]  # the record read back: a typed ps row
        (volumes,) = fleet_shell.value("volume ls --context hostile")
        assert [(v["name"], v["labels"], v["mountpoint"], v["driver"]) for v in volumes] == [("v", {}, "", "local")]
        (networks,) = fleet_shell.value("network ls --context hostile")
        assert [(n["name"], n["subnet"], n["internal"], n["bridge"]) for n in networks] == [("net", "", False, "")]
        assert [(c["id"], c["name"]) for c in networks[0]["containers"]] == [("d" * 64, "")]
    finally:
        server.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("address", ["tcp://h", "tcp://h:99999", "tcp://u:p@h:1", "tcp://h:1/path", "tcp://h:1?x=1",
                                     "tcp://h_x:1", "tcp://:1", "tcp://h:port"])
def test_bad_pouchd_addresses_are_refused(tmp_path: Path, address: str) -> None:
    from ctrd.errors import InvalidArgument
    from managers.contexts import ContextStore

    files = []
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(0o600)
        files.append(str(tmp_path / name))
    with pytest.raises(InvalidArgument):
        ContextStore(tmp_path / "c").create("a", address, tlscacert=files[0], tlscert=files[1], tlskey=files[2])


def test_context_files_that_lie_about_their_kind_are_refused(tmp_path: Path) -> None:
    import json

    from ctrd.errors import InvalidArgument
    from managers.contexts import ContextStore

    store = ContextStore(tmp_path)
    bodies = {
        "plain": {"address": "tcp://h:1", "namespace": "d", "kind": "pouchd"},  # tcp without its TLS files
        "kindless": {"address": "tcp://h:1", "namespace": "d", "tlscacert": "/a", "tlscert": "/b", "tlskey": "/c"},
        "odd": {"address": "/run/x.sock", "namespace": "d", "kind": "ssh"},
        "relative": {"address": "tcp://h:1", "namespace": "d", "kind": "pouchd", "tlscacert": "a", "tlscert": "/b",
                     "tlskey": "/c"},
    }
    for name, body in bodies.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(body))
        (tmp_path / f"{name}.json").chmod(0o600)
        with pytest.raises(InvalidArgument):
            store.get(name)
    unix = store.create("local", "unix:///run/pouchd.sock", pouchd=True)
    assert (store.get("local").kind, unix.tls) == ("pouchd", None)
    with pytest.raises(InvalidArgument, match="unix socket"):
        (tmp_path / "k").write_text("x")
        (tmp_path / "k").chmod(0o600)
        store.create("tlsunix", "/run/p.sock", pouchd=True, tlscacert=str(tmp_path / "k"), tlscert=str(tmp_path / "k"),
                     tlskey=str(tmp_path / "k"))


def test_ctrl_c_ends_a_quiet_remote_logs_follow(fleet_shell, pouchd_tls) -> None:
    """logs -f on a pouchd context blocks in a read while the container is quiet; Ctrl-C (the session's
    cancel event) still ends it, as Interrupted, without leaving the session interrupted."""
    import threading

    from ctrd.errors import Interrupted

    fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
    fleet_shell.run("run -d --network none --name quiet --context pd busybox sh -c 'echo hello; exec sleep 300'")
    remote = fleet_shell.facade.for_context("pd")
    cancel = threading.Event()
    lines = remote.containers.logs("quiet", follow=True, cancel=cancel)
    outcome: list[Any] = []

    def read() -> None:
        try:
            outcome.extend(lines)
        except Interrupted as e:
            outcome.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    poll(lambda: outcome, "the first line")
    cancel.set()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert outcome[0] == "hello" and isinstance(outcome[-1], Interrupted)
    fleet_shell.run("rm -f --context pd quiet")
    assert fleet_shell.err == ""


def test_pull_and_run_pull_on_a_pouchd_context(fleet_shell, pouchd_tls, tmp_path) -> None:
    """pull on a pouchd context pulls on its host; run -d there pulls a missing image first (a registry on
    loopback, fed by a push from containerd context a)."""
    from ctrd.errors import PouchError
    from tests.images.conftest import run_registry

    with run_registry(tmp_path / "registry") as registry:
        fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
        fleet_shell.run(f"tag --context a busybox {registry}/fleet/bb:1")
        fleet_shell.run(f"push --context a {registry}/fleet/bb:1")
        fleet_shell.run(f"tag --context a busybox {registry}/fleet/bb:2")
        fleet_shell.run(f"push --context a {registry}/fleet/bb:2")
        assert "error[" not in fleet_shell.err
        (pulled,) = fleet_shell.value(f"pull --context pd {registry}/fleet/bb:1")
        assert pulled[0]["context"] == "pd" and pulled[0]["id"].startswith("sha256:")
        (images,) = fleet_shell.value("images --context pd")
        assert {(i["repository"], i["tag"]) for i in images} >= {(f"{registry}/fleet/bb", "1")}
        (made,) = fleet_shell.value(f"run -d --network none --context pd {registry}/fleet/bb:2 sleep 300")
        assert made[0]["image"].endswith("fleet/bb:2") and made[0]["status"] == "running"
        fleet_shell.run(f"rm -f --context pd {made[0]['id']}")

        with pytest.raises(PouchError, match="pouchd"):
            fleet_shell.run(f"run -d --pull never --network none --context pd {registry}/fleet/bb:3 true")
    # The registry is gone: the image pulled before runs, but --pull always goes to the registry and fails.
    (again,) = fleet_shell.value(f"run -d --network none --context pd {registry}/fleet/bb:1 true")
    assert again[0]["context"] == "pd"
    with pytest.raises(PouchError, match=f"pull {registry}/fleet/bb:1"):
        fleet_shell.run(f"run -d --pull always --network none --context pd {registry}/fleet/bb:1 true")


def test_container_verbs_on_a_pouchd_context(fleet_shell, pouchd_tls) -> None:
    """create, start, wait, stop, restart, kill and exec through pouchd's API, with the local verbs' records."""
    from ctrd.errors import Conflict, InvalidArgument, PouchError, Unavailable

    fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
    (made,) = fleet_shell.value("create --network none --name job --label k=v --context pd busybox sh -c 'exit 3'")
    assert [(r["context"], r["name"], r["status"], r["labels"]) for r in made] == [("pd", "job", "created", {"k": "v"})]
    (started,) = fleet_shell.value("start --context pd job")
    assert started[0]["context"] == "pd" and started[0]["id"] == made[0]["id"]
    (codes,) = fleet_shell.value("wait --context pd job")
    assert [c["value"] for c in codes] == [3]
    (status,) = fleet_shell.value("inspect --context pd job | get exit_code")
    assert status == [3]

    fleet_shell.run("run -d --network none --name web --context pd busybox sleep 300")
    (stopped,) = fleet_shell.value("stop -t 1 --context pd web")
    assert [(r["name"], r["status"]) for r in stopped] == [("web", "exited")]
    (again,) = fleet_shell.value("restart -t 1 --context pd web")
    assert [(r["name"], r["status"]) for r in again] == [("web", "running")]
    (killed,) = fleet_shell.value("kill -s KILL --context pd web")
    assert [(r["name"], r["status"]) for r in killed] == [("web", "exited")]
    (codes,) = fleet_shell.value("wait --context pd web")
    assert [c["value"] for c in codes] == [137]
    with pytest.raises(Conflict):  # as the local kill: a container that is not running
        fleet_shell.run("kill --context pd web")
    with pytest.raises(InvalidArgument, match="signal"):  # checked here, never sent
        fleet_shell.run("kill -s 'NOPE&x=1' --context pd web")
    fleet_shell.run("start --context pd web")
    fleet_shell.run(f"context create pdu --pouchd --address unix://{pouchd_tls.socket}")
    # exec over TLS (pd) and a unix socket (pdu): its output here, its exit status as $status
    for name in ("pd", "pdu"):
        out = fleet_shell.run(f"exec --context {name} -e X=42 -w /tmp web sh -c 'echo $X $(pwd); echo oops >&2; exit 7'; $status")
        assert out.split() == ["42", "/tmp", "7"]
        assert "oops" in fleet_shell.err
        out = fleet_shell.run(f"exec --context {name} web true; $status")
        assert out.split() == ["0"]
        out = fleet_shell.run(f"exec --context {name} web /no/such/program; $status")
        assert out.split() == ["127"]
        big = fleet_shell.run(f"exec --context {name} web head -c 3000000 /dev/zero")  # many frames, whole
        assert (len(big), big.count("\0")) == (3_000_000, 3_000_000)
    (detached,) = fleet_shell.value("exec -d --context pd web touch /tmp/marker")  # -d: over tcp:// too
    assert [(d["context"], d["id"], d["pid"]) for d in detached] == [("pd", stopped[0]["id"], None)]
    assert len(detached[0]["exec_id"]) == 64
    poll(lambda: fleet_shell.run("exec --context pdu web test -e /tmp/marker; $status").strip().endswith("0"),
          "the detached exec's file")
    # no terminal and no stdin through pouchd: refused by name, before anything runs there
    for flags in ("-t", "-i"):
        with pytest.raises(Unavailable, match="exec -i/-t is not served"):
            fleet_shell.run(f"exec {flags} --context pdu web touch /tmp/never")
    with pytest.raises(PouchError):
        fleet_shell.run("exec -it --context pdu web touch /tmp/never")
    assert fleet_shell.run("exec --context pdu web test -e /tmp/never; $status").strip().endswith("1")
    with pytest.raises(Unavailable, match="start -a/-i is not served"):
        fleet_shell.run("start -a --context pdu job")
    fleet_shell.run("rm -f --context pd web job")


def test_stop_fans_out_over_containerd_and_pouchd_contexts(fleet_shell, pouchd_tls) -> None:
    """The pouchd is the module's: other tests' containers may be on it; this test's carry a label."""
    fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
    fleet_shell.run("run -d --network none --name s1 --label fan=out --context a,pd busybox sleep 300")
    fleet_shell.run("run -d --network none --name s2 --label fan=out --context pd busybox sleep 300")
    mine = "--filter label=fan=out"
    (rows,) = fleet_shell.value(f"ps --context all {mine}")
    assert sorted((r["context"], r["name"]) for r in rows) == [("a", "s1"), ("pd", "s1"), ("pd", "s2")]
    (stopped,) = fleet_shell.value(f"ps --context all {mine} | where status == running | stop -t 1")
    assert sorted((r["context"], r["name"], r["status"]) for r in stopped) == [
        ("a", "s1", "exited"), ("pd", "s1", "exited"), ("pd", "s2", "exited")]
    (rows,) = fleet_shell.value(f"ps -a --context all {mine}")
    assert [r["status"] for r in rows] == ["exited"] * 3
    (started,) = fleet_shell.value(f"ps -a --context all {mine} | where name == s1 | start")
    assert sorted((r["context"], r["status"]) for r in started) == [("a", "running"), ("pd", "running")]
    fleet_shell.run(f"ps -a --context all {mine} | rm -f")
    (rows,) = fleet_shell.value(f"ps -a --context all {mine}")
    assert rows == []


def test_volume_and_network_ls_on_a_pouchd_context(fleet_shell, pouchd_tls) -> None:
    from managers.pouchdclient import PouchdClient, TLSFiles

    fleet_shell.run(f"context create pd {pouchd_tls.create_args()}")
    d = pouchd_tls.certs
    api = PouchdClient(f"tcp://127.0.0.1:{pouchd_tls.port}", TLSFiles(str(d / "ca.pem"), str(d / "client.pem"),
                                                                        str(d / "client-key.pem")))
    try:
        api.json("POST", "/volumes/create", body={"Name": "pdata", "Labels": {"app": "shop"}}, what="volume create")
        fleet_shell.run("volume create --context a --label app=shop adata")
        (volumes,) = fleet_shell.value("volume ls --context a,pd | where labels.app? == shop")
        by = {v["context"]: v for v in volumes}
        assert (by["pd"]["name"], by["a"]["name"]) == ("pdata", "adata")
        assert set(by["pd"]) <= set(by["a"]) and by["pd"]["driver"] == "local"
        (names,) = fleet_shell.value("volume ls -q --context pd")
        assert [n["value"] for n in names] == ["pdata"]
        (networks,) = fleet_shell.value("network ls --context a,pd")
        local = {n["name"]: n for n in networks if n["context"] == "a"}
        remote = {n["name"]: n for n in networks if n["context"] == "pd"}
        assert {"host", "none"} <= set(remote) and set(remote["none"]) == set(local["none"])
        assert (remote["none"]["driver"], remote["none"]["containers"]) == ("null", [])
        made = api.json("POST", "/networks/create", body={"Name": "pnet", "Labels": {"app": "shop"}},
                        what="network create")
        fleet_shell.run("run -d --network pnet --name onnet --context pd busybox sleep 300")
        (nets,) = fleet_shell.value("network ls --context pd | where labels.app? == shop")
        (net,) = nets
        assert (net["name"], net["id"], net["driver"], net["internal"]) == ("pnet", made["Id"], "bridge", False)
        assert net["subnet"] and net["gateway"] and net["bridge"]
        assert [c["name"] for c in net["containers"]] == ["onnet"]
        fleet_shell.run("rm -f --context pd onnet")
        api.json("DELETE", f"/networks/{made['Id']}", what="network rm")
    finally:
        api.json("DELETE", "/volumes/pdata", what="volume rm")
        api.close()
        fleet_shell.run("volume rm --context a adata")
