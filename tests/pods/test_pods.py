"""Pods through containerd's CRI, against a real containerd with the cri plugin on (tests/pods/conftest.py)."""

from __future__ import annotations


import pytest

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def test_pod_lifecycle(pods) -> None:
    made = pods.pods.run("web", "docker.io/library/busybox:latest", ["httpd", "-f", "-p", "8080", "-h", "/etc"],
                         containers=["docker.io/library/busybox:latest sleep 600"], env=["GREETING=hi"], memory=64 << 20)
    assert made["name"] == "web" and made["status"] == "ready" and made["ip"].startswith("10.233.77.")
    assert [c["name"] for c in made["containers"]] == ["web", "web-2"]
    assert made["containers"][0]["status"] == "running"
    # The containers share the pod's network: the second reaches the first's server on localhost.
    def fetch() -> str | None:
        got = pods.pods.exec("web", ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/hostname"], container="web-2")
        return got["stdout"] if got["exit_code"] == 0 else None

    assert poll(fetch, "httpd").strip() == "web"
    out = pods.pods.exec("web", ["sh", "-c", "hostname; echo $GREETING; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"])
    assert out["exit_code"] == 0
    assert out["stdout"].split() == ["web", "hi", str(64 << 20)]
    failed = pods.pods.exec("web", ["sh", "-c", "echo oops >&2; exit 3"])
    assert (failed["exit_code"], failed["stderr"]) == (3, "oops\n")
    assert [p["name"] for p in pods.pods.list()] == ["web"]
    with pytest.raises(AlreadyExists):
        pods.pods.run("web", "docker.io/library/busybox:latest", ["true"])
    with pytest.raises(Conflict, match="running"):
        pods.pods.remove("web")
    stopped = pods.pods.stop("web", timeout=1)
    assert stopped["status"] == "notready"
    assert pods.pods.remove("web") == "web"
    assert pods.pods.list() == []
    with pytest.raises(NotFound):
        pods.pods.inspect("web")


def test_pod_logs(pods) -> None:
    pods.pods.run("talker", "docker.io/library/busybox:latest", ["sh", "-c", "echo one; echo two >&2; sleep 600"])
    text = poll(lambda: pods.pods.logs("talker") if "two" in pods.pods.logs("talker") else None, "logs")
    assert text.splitlines() == ["one", "two"] or sorted(text.splitlines()) == ["one", "two"]
    pods.pods.remove("talker", force=True)


def test_missing_image_and_bad_input(pods) -> None:
    with pytest.raises(NotFound, match="k8s.io namespace"):
        pods.pods.run("nope", "example.invalid/none:1", ["true"])
    assert pods.pods.list() == []  # nothing left behind
    with pytest.raises(InvalidArgument):
        pods.pods.run("../x", "docker.io/library/busybox:latest", [])
    with pytest.raises(InvalidArgument, match="6MiB"):
        pods.pods.run("tiny", "docker.io/library/busybox:latest", [], memory=1024)


def test_foreign_pods_are_read_only_without_force(pods) -> None:
    """A pod pouchsh did not make (a kubelet's) is listed with -a and inspected, changed only with force."""
    from ctrd.cri import SandboxSpec

    spec = SandboxSpec(name="kube-thing", namespace="kube-system", uid="k8s-uid-1", hostname="kube-thing",
                       log_directory="", cgroup_parent="/pouchsh-pods")
    pod_id = pods.pods.cri.run_sandbox(spec)
    assert pods.pods.list() == []
    (row,) = pods.pods.list(all=True)
    assert row["id"] == pod_id and row["pouchsh"] is False
    assert pods.pods.inspect(pod_id)["name"] == "kube-thing"
    with pytest.raises(Conflict, match="not made by pouchsh"):
        pods.pods.stop(pod_id)
    with pytest.raises(Conflict, match="not made by pouchsh"):
        pods.pods.remove(pod_id)
    with pytest.raises(InvalidArgument, match="not made by pouchsh"):
        pods.pods.logs(pod_id)
    assert pods.pods.remove(pod_id, force=True, foreign=True) == "kube-thing"


def _language(facade):
    import io

    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    out = io.BytesIO()
    runtime = Runtime(managers_factory=lambda: facade, stdout=out, stderr=out, stdin=io.BytesIO(), json_output=True)
    session = Session(runtime)

    def run(text: str) -> str:
        out.seek(0)
        out.truncate()
        session.execute(session.compile(text, "pods.pouch"))
        return out.getvalue().decode()

    return run, runtime


def test_pod_commands_from_the_language(pods) -> None:
    run, runtime = _language(pods)
    run("pod run --name lang -e A=1 busybox sleep 600")
    assert run("pod ls | get 0.containers").strip() == '"1/1"'
    assert run("pod exec lang sh -c 'echo $A' | get stdout").strip() == '"1\\n"'
    assert run("pod exec lang false | get exit_code").strip() == "1" and runtime.status == 1
    assert run("pod ls | pod rm -f").strip() == '["lang"]'
    assert run("pod ls -a").strip() == "[]"


def test_kubernetes_namespace_is_seen_and_read_only(pods) -> None:
    import json

    run, _ = _language(pods)
    pods.pods.run("seen", "docker.io/library/busybox:latest", ["sleep", "600"])
    rows = json.loads(run("ps -a --all-namespaces"))
    k8s = [r for r in rows if r["namespace"] == "k8s.io"]
    assert len(k8s) == 2 and all(list(r)[0] == "namespace" for r in rows)  # the sandbox and its container
    assert json.loads(run("ps -a -A | where namespace == k8s.io | inspect | length")) == 2
    assert any(i["namespace"] == "k8s.io" for i in json.loads(run("images -A")))
    for verb, message in [("rm", "add --force"), ("stop", "only reads it"), ("kill", "only reads it")]:
        with pytest.raises(Conflict) as err:
            run(f"ps -a -A | where namespace == k8s.io | {verb}")
        assert "k8s.io namespace holds what Kubernetes runs" in err.value.message
        assert message in (err.value.hint or "") + err.value.message
    with pytest.raises(Conflict):
        run("namespace use k8s.io; ps -a -q | rm")
    with pytest.raises(Conflict):
        run("namespace use k8s.io; container prune")
    assert json.loads(run("pod inspect seen | get containers.0.status")) == "running"  # nothing was touched


def test_a_pod_that_claims_to_be_pouchshs_cannot_steer_paths(pods, tmp_path) -> None:
    """Labels and uids come from whoever made the pod: a kubelet's pod labelled like one of pouchsh's,
    with a uid that is a path, gets no path built from it (logs refused, removal touches no files)."""
    from ctrd.cri import SandboxSpec

    bait = tmp_path / "bait"
    bait.mkdir()
    (bait / "keep").write_text("x")
    spec = SandboxSpec(name="sneaky", namespace="default", uid=f"../../../../{bait}", hostname="sneaky",
                       log_directory="", cgroup_parent="/pouchsh-pods", labels={"pouchsh/pod": "sneaky"})
    pods.pods.cri.run_sandbox(spec)
    with pytest.raises(InvalidArgument, match="not made by pouchsh"):
        pods.pods.logs("sneaky")
    assert pods.pods.remove("sneaky", force=True) == "sneaky"
    assert (bait / "keep").read_text() == "x"


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_published_port_reaches_the_pod_on_loopback(pods) -> None:
    """-p puts a CRI PortMapping in the sandbox config; containerd hands it to CNI's portmap plugin, whose
    DNAT makes the pod's httpd answer on the host's 127.0.0.1:HOSTPORT."""
    import urllib.request

    port = _free_loopback_port()
    made = pods.pods.run("pub", "docker.io/library/busybox:latest", ["httpd", "-f", "-p", "8080", "-h", "/etc"],
                         publish=[f"127.0.0.1:{port}:8080"])
    assert made["ports"] == [{"host_ip": "127.0.0.1", "host_port": port, "container_port": 8080, "protocol": "tcp"}]

    def fetch() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=5) as reply:
                return reply.read().decode()
        except OSError:
            return None

    assert poll(fetch, f"httpd on 127.0.0.1:{port}").strip() == "pub"
    # The same host port again is refused before anything is made; -p CONTAINER takes a free one.
    with pytest.raises(Conflict, match=f"{port}/tcp"):
        pods.pods.run("pub2", "docker.io/library/busybox:latest", ["sleep", "600"], publish=[f"127.0.0.1:{port}:80"])
    assert [p["name"] for p in pods.pods.list()] == ["pub"]
    pods.pods.remove("pub", force=True)
    # Once the pod is gone its rules are too: nothing answers there.
    poll(lambda: fetch() is None, "the mapping to go")


def test_two_pod_runs_racing_for_one_host_port(pods) -> None:
    """Two ``pod run -p`` (two facades on one data root, as two pouchsh processes) racing for one host port
    are serialised by the lock containers' -p takes: exactly one pod is made, the other gets a conflict
    naming it and leaves nothing (no sandbox, no log directory)."""
    import threading

    from ctrd.errors import PouchError
    from managers import Managers

    port = _free_loopback_port()
    pods.pods.ensure_sandbox_image()  # not part of the race: built once, before it
    facades = [pods, Managers(address=pods.address, namespace="default", root=pods.root, run_root=pods.run_root)]
    for facade in facades:
        facade.pods.cri.status()  # both dialled: the race starts at the check, not at the connection
    start = threading.Barrier(2)
    outcomes: dict[str, dict | PouchError] = {}

    def race(facade, name: str) -> None:
        start.wait(30)
        try:
            outcomes[name] = facade.pods.run(name, "docker.io/library/busybox:latest", ["sleep", "600"],
                                             publish=[f"127.0.0.1:{port}:80"])
        except PouchError as err:
            outcomes[name] = err

    try:
        threads = [threading.Thread(target=race, args=(f, n)) for f, n in zip(facades, ("racer-a", "racer-b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        facades[1].close()
    made = [name for name, out in outcomes.items() if isinstance(out, dict)]
    refused = [out for out in outcomes.values() if not isinstance(out, dict)]
    assert len(made) == 1 and len(refused) == 1, outcomes
    (winner,), (error,) = made, refused
    assert isinstance(error, Conflict) and f"{port}/tcp" in str(error) and f"pod {winner}" in str(error)
    assert [p["name"] for p in pods.pods.list(all=True)] == [winner]
    assert [d.name for d in (pods.root / "pods").iterdir()] == [pods.pods.inspect(winner)["uid"]]
    pods.pods.remove(winner, force=True)


def test_published_port_refusals(pods) -> None:
    import socket

    with pytest.raises(InvalidArgument, match="host-network"):
        pods.pods.run("hn", "docker.io/library/busybox:latest", ["sleep", "1"], publish=["8080"], host_network=True)
    with pytest.raises(InvalidArgument):
        pods.pods.run("bad", "docker.io/library/busybox:latest", ["sleep", "1"], publish=["127.0.0.1:99999:80"])
    with socket.socket() as held:  # a host process's listener is not silently shadowed by portmap's DNAT
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(Conflict, match="host process"):
            pods.pods.run("shadow", "docker.io/library/busybox:latest", ["sleep", "1"], publish=[f"127.0.0.1:{port}:80"])
    assert pods.pods.list() == []


def test_a_forged_ports_annotation_is_not_trusted(pods) -> None:
    """A pod another CRI client made with pouchsh's label and a malformed ports annotation shows no ports
    and blocks none."""
    from ctrd.cri import SandboxSpec

    forged = '[{"host_ip": "127.0.0.1", "host_port": "80; rm", "container_port": 1, "protocol": "tcp"}, 7, "x"]'
    pods.pods.cri.run_sandbox(SandboxSpec(
        name="forged", namespace="default", uid="f" * 32, hostname="forged", log_directory="",
        cgroup_parent="/pouchsh-pods", labels={"pouchsh/pod": "forged"}, annotations={"pouchsh/ports": forged}))
    assert pods.pods.inspect("forged")["ports"] == []


def _pouchsh_argv(pods, script: str) -> tuple[list[str], dict[str, str]]:
    import os
    import sys

    env = dict(os.environ, POUCHSH_ROOT=str(pods.root), POUCHSH_RUN=str(pods.run_root))
    env.pop("CONTAINERD_NAMESPACE", None)
    return [sys.executable, "-m", "pouchsh", "--address", pods.address, "--namespace", "default", "-c", script], env


def test_pod_exec_with_a_terminal(pods) -> None:
    """pod exec -it: a shell in the pod's container on a pseudo-terminal sized like the caller's, its exit
    status the command's (through containerd's task API on the pod container, like exec -it)."""
    import pexpect

    from tests.support.terminal import in_terminal

    pods.pods.run("term", "docker.io/library/busybox:latest", ["sleep", "600"], hostname="termhost")
    argv, env = _pouchsh_argv(pods, "pod exec -it term sh")
    with in_terminal(argv, env=env, rows=31, columns=97) as child:
        child.expect_exact("# ")
        child.sendline("[ -t 0 ] && echo tty-$(hostname); stty size")
        child.expect_exact("tty-termhost")
        child.expect_exact("31 97")
        child.sendline("exit 7")
        child.expect(pexpect.EOF)
        assert child.wait_exit() == 7


def test_pod_exec_interactive_forwards_stdin(pods) -> None:
    import subprocess

    pods.pods.run("cat", "docker.io/library/busybox:latest", ["sleep", "600"],
                  containers=["docker.io/library/busybox:latest sleep 600"])
    argv, env = _pouchsh_argv(pods, "pod exec -i -c cat-2 cat sh -c 'tr a-z A-Z; exit 5'")
    done = subprocess.run(argv, input=b"hello pod\n", capture_output=True, env=env, timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (5, b"HELLO POD\n", b"")
    # -it without a terminal is refused as exec -it is, and a missing container is named.
    argv, env = _pouchsh_argv(pods, "pod exec -it cat sh")
    done = subprocess.run(argv, input=b"", capture_output=True, env=env, timeout=120, check=False)
    assert b"error[invalid-argument]" in done.stderr and b"not a TTY" in done.stderr
    argv, env = _pouchsh_argv(pods, "pod exec -i -c nope cat true")
    done = subprocess.run(argv, input=b"", capture_output=True, env=env, timeout=120, check=False)
    assert b"error[not-found]" in done.stderr and b"no container nope" in done.stderr
