"""The real docker CLI (28) against pouchd: what `docker run`, `ps`, `logs`, `exec`, `cp`, `volume`,
`network` and `images` send, and that the shell sees the same containers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pouchd.conftest import Daemon, wait_until
from tests.support.terminal import in_terminal

pytestmark = pytest.mark.containerd


def test_version_negotiates_1_41_and_info_answers(daemon: Daemon) -> None:
    done = daemon.docker("version", "--format", "{{json .}}", check=True)
    version = json.loads(done.stdout)
    assert version["Server"]["ApiVersion"] == "1.41"
    assert any(c["Name"] == "containerd" for c in version["Server"]["Components"])
    info = json.loads(daemon.docker("info", "--format", "{{json .}}", check=True).stdout)
    assert info["OSType"] == "linux" and info["Images"] >= 1


def test_run_rm_streams_output_and_exit_status(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == b"out\n"
    assert done.stderr == b"err\n"
    # --rm: nothing is left
    assert daemon.docker("ps", "-aq", check=True).stdout.strip() == b""


def test_run_piped_stdin_reaches_the_container(daemon: Daemon) -> None:
    done = daemon.docker("run", "-i", "--rm", "busybox", "sh", "-c", "wc -c", input=b"x" * 100_000)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"100000"


def test_bad_command_is_reported_and_removed(daemon: Daemon) -> None:
    done = daemon.docker("run", "--rm", "busybox", "/no/such/program")
    assert done.returncode != 0
    assert b"Error response from daemon" in done.stderr
    assert daemon.docker("ps", "-aq", check=True).stdout.strip() == b""


def test_detached_container_ps_logs_exec_stop_rm(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "--name", "web1", "busybox", "sh", "-c",
                        "echo ready; echo oops >&2; exec sleep 300", check=True).stdout.strip().decode()
    assert len(cid) == 64
    ps = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}", check=True).stdout.decode()
    assert "web1 Up" in ps
    wait_until(lambda: b"ready" in daemon.docker("logs", "web1").stdout, what="the log line")
    logs = daemon.docker("logs", "web1", check=True)
    assert logs.stdout == b"ready\n" and logs.stderr == b"oops\n"
    # the two lines come through two pipes, so which was logged last is the collector's choice: --tail 2
    stamped = daemon.docker("logs", "-t", "--tail", "2", "web1", check=True)
    assert stamped.stdout.endswith(b" ready\n") and stamped.stdout[:4].isdigit()
    assert stamped.stderr.endswith(b" oops\n") and stamped.stderr[:4].isdigit()
    assert daemon.docker("exec", "web1", "echo", "in-exec", check=True).stdout == b"in-exec\n"
    assert daemon.docker("exec", "web1", "sh", "-c", "exit 5").returncode == 5
    assert daemon.docker("exec", "web1", "/no/such/program").returncode == 127  # as docker's
    assert daemon.docker("exec", "-i", "web1", "cat", input=b"fed\n", check=True).stdout == b"fed\n"
    inspect = json.loads(daemon.docker("inspect", "web1", check=True).stdout)[0]
    assert inspect["Id"] == cid and inspect["Name"] == "/web1"
    assert inspect["State"]["Running"] is True and inspect["State"]["Pid"] > 0
    assert inspect["Config"]["Cmd"][0] == "sh"
    assert set(inspect) >= {"State", "Config", "HostConfig", "NetworkSettings", "Mounts"}
    stats = daemon.docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "web1", check=True)
    name, pids, memory = stats.stdout.decode().split(" ", 2)
    assert (name, pids) == ("web1", "1") and memory[0].isdigit()
    assert daemon.docker("stop", "-t", "1", "web1", check=True).stdout.strip() == b"web1"
    # stopping a stopped container: 304, which the CLI takes as success
    assert daemon.docker("stop", "web1").returncode == 0
    exited = json.loads(daemon.docker("inspect", "web1", check=True).stdout)[0]["State"]
    assert exited["Status"] == "exited" and exited["ExitCode"] == 137
    assert daemon.docker("rm", "-f", "web1", check=True).returncode == 0
    missing = daemon.docker("inspect", "web1")
    assert missing.returncode == 1 and b"No such object" in missing.stderr


def test_run_it_through_a_pty(daemon: Daemon) -> None:
    import pexpect

    with in_terminal(["docker", "run", "-it", "--rm", "busybox", "sh"], env=daemon.env(), rows=27, columns=91) as child:
        child.expect(r"[#$] ")
        child.sendline("echo $((6*7)); stty size")
        child.expect("42")
        child.expect("27 91")
        child.sendline("exit 4")
        child.expect(pexpect.EOF)
        assert child.wait_exit() == 4


def test_exec_it_through_a_pty(daemon: Daemon) -> None:
    import pexpect

    daemon.docker("run", "-d", "--name", "ptyexec", "busybox", "sleep", "300", check=True)
    try:
        with in_terminal(["docker", "exec", "-it", "ptyexec", "sh"], env=daemon.env(), rows=33, columns=101) as child:
            child.expect(r"[#$] ")
            # API 1.41 carries no size at the exec's start: the CLI's resize call comes after it, and may
            # come after the shell read its size; the shell waits for it (a deadline, not a sleep)
            child.sendline("i=0; while [ \"$(stty size)\" = '0 0' ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done;"
                           " stty size; tty; exit 3")
            child.expect("33 101")  # POST /exec/{id}/resize reached the exec's pty, even sent before it existed
            child.expect("/dev/pts/")
            child.expect(pexpect.EOF)
            assert child.wait_exit() == 3
    finally:
        daemon.docker("rm", "-f", "ptyexec")


def test_volumes_and_networks(daemon: Daemon) -> None:
    assert daemon.docker("volume", "create", "vol1", check=True).stdout.strip() == b"vol1"
    assert b"vol1" in daemon.docker("volume", "ls", "-q", check=True).stdout
    assert json.loads(daemon.docker("volume", "inspect", "vol1", check=True).stdout)[0]["Driver"] == "local"
    net_id = daemon.docker("network", "create", "net1", check=True).stdout.strip()
    assert len(net_id) == 64
    assert b"net1" in daemon.docker("network", "ls", check=True).stdout
    daemon.docker("run", "-d", "--name", "netuser", "-v", "vol1:/data", "--network", "net1", "busybox",
                  "sh", "-c", "echo kept > /data/f; exec sleep 300", check=True)
    inspect = json.loads(daemon.docker("inspect", "netuser", check=True).stdout)[0]
    assert "net1" in inspect["NetworkSettings"]["Networks"]
    assert inspect["NetworkSettings"]["Networks"]["net1"]["IPAddress"]
    assert any(m["Type"] == "volume" and m["Name"] == "vol1" and m["Destination"] == "/data" for m in inspect["Mounts"])
    # in use: refused, and still there
    assert daemon.docker("volume", "rm", "vol1").returncode == 1
    daemon.docker("rm", "-f", "netuser", check=True)
    daemon.docker("volume", "rm", "vol1", check=True)
    daemon.docker("network", "rm", "net1", check=True)
    assert b"vol1" not in daemon.docker("volume", "ls", "-q", check=True).stdout
    assert b"net1" not in daemon.docker("network", "ls", check=True).stdout


def test_cp_both_ways(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("run", "-d", "--name", "cpw", "busybox", "sleep", "300", check=True)
    try:
        src = tmp_path / "cpin.txt"
        src.write_text("hello\n")
        daemon.docker("cp", str(src), "cpw:/tmp/", check=True)
        assert daemon.docker("exec", "cpw", "cat", "/tmp/cpin.txt", check=True).stdout == b"hello\n"
        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "a.txt").write_text("a\n")
        daemon.docker("cp", str(tree), "cpw:/tmp/cpdir", check=True)
        assert daemon.docker("exec", "cpw", "cat", "/tmp/cpdir/sub/a.txt", check=True).stdout == b"a\n"
        out = tmp_path / "out"
        out.mkdir()
        daemon.docker("cp", "cpw:/tmp/cpin.txt", str(out / "x.txt"), check=True)
        assert (out / "x.txt").read_text() == "hello\n"
        daemon.docker("cp", "cpw:/tmp/cpdir", str(out), check=True)
        assert (out / "cpdir" / "sub" / "a.txt").read_text() == "a\n"
        missing = daemon.docker("cp", "cpw:/nonexist", str(out))
        assert missing.returncode == 1 and b"Error response from daemon" in missing.stderr
    finally:
        daemon.docker("rm", "-f", "cpw")


def test_images_tag_save_load_rmi(daemon: Daemon, tmp_path: Path) -> None:
    assert b"busybox" in daemon.docker("images", check=True).stdout
    daemon.docker("tag", "busybox:latest", "127.0.0.1:5055/test/bb:v1", check=True)
    assert b"127.0.0.1:5055/test/bb" in daemon.docker("images", check=True).stdout
    archive = tmp_path / "bb.tar"
    daemon.docker("save", "-o", str(archive), "127.0.0.1:5055/test/bb:v1", check=True)
    assert archive.stat().st_size > 100_000
    removed = daemon.docker("rmi", "127.0.0.1:5055/test/bb:v1", check=True)
    assert b"Untagged: 127.0.0.1:5055/test/bb:v1" in removed.stdout
    loaded = daemon.docker("load", "-i", str(archive), check=True)
    assert loaded.stdout.strip() == b"Loaded image: 127.0.0.1:5055/test/bb:v1"
    inspect = json.loads(daemon.docker("image", "inspect", "127.0.0.1:5055/test/bb:v1", check=True).stdout)[0]
    assert inspect["Id"].startswith("sha256:")
    daemon.docker("rmi", "127.0.0.1:5055/test/bb:v1", check=True)
    missing = daemon.docker("image", "inspect", "nosuch")
    assert missing.returncode == 1 and b"No such image" in missing.stderr


def test_the_shell_and_the_api_see_the_same_containers(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "fromapi", "busybox", "sleep", "300", check=True)
    done = daemon.pouchsh("--json", "-c", "ps")
    assert done.returncode == 0, done.stderr
    assert "fromapi" in done.stdout.decode()
    shell = daemon.pouchsh("-c", "run -d --name fromshell busybox sleep 300")
    assert shell.returncode == 0, shell.stderr
    names = daemon.docker("ps", "--format", "{{.Names}}", check=True).stdout.decode().split()
    assert {"fromapi", "fromshell"} <= set(names)
    # names stay unique across both
    clash = daemon.docker("run", "-d", "--name", "fromshell", "busybox", "true")
    assert clash.returncode != 0 and b"fromshell" in clash.stderr
    daemon.docker("rm", "-f", "fromapi", "fromshell", check=True)
    assert "fromshell" not in daemon.pouchsh("--json", "-c", "ps -a").stdout.decode()


def test_events_stream_container_life(daemon: Daemon) -> None:
    from tests.pouchd.conftest import UnixHTTPConnection

    conn = UnixHTTPConnection(daemon.socket, timeout=30)
    try:
        conn.request("GET", '/v1.41/events?filters={"type":["container"]}')
        response = conn.getresponse()  # the headers come once the subscription is live
        assert response.status == 200
        daemon.docker("run", "--rm", "--name", "evt2", "busybox", "true", check=True)
        seen: list[dict[str, object]] = []
        while not any(e.get("Action") == "destroy" for e in seen):
            line = response.readline()
            assert line, "the event stream ended"
            seen.append(json.loads(line))
    finally:
        conn.close()
    actions = [e["Action"] for e in seen if e["Actor"]["Attributes"].get("name") == "evt2"]  # type: ignore[index]
    assert {"create", "start", "die", "destroy"} <= set(actions)
    die = next(e for e in seen if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "0"  # type: ignore[index]
    assert daemon.request("GET", "/_ping")[0] == 200



def test_attach_to_a_running_container(daemon: Daemon) -> None:
    import subprocess

    daemon.docker("run", "-d", "--name", "att1", "busybox", "sh", "-c",
                  "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done", check=True)
    try:
        attach = subprocess.Popen(["docker", "attach", "--no-stdin", "att1"], stdout=subprocess.PIPE,
                                  env=daemon.env())
        assert attach.stdout is not None
        first = attach.stdout.readline()
        second = attach.stdout.readline()
        assert first.startswith(b"tick ") and second.startswith(b"tick ")
        assert int(second.split()[1]) == int(first.split()[1]) + 1
        attach.kill()
        attach.wait()
        # the client is gone; the container is not
        assert json.loads(daemon.docker("inspect", "att1", check=True).stdout)[0]["State"]["Running"] is True
    finally:
        daemon.docker("rm", "-f", "att1")


def test_logs_follow_ends_with_the_container(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "follow1", "busybox", "sh", "-c",
                  "for i in 1 2 3; do echo line $i; sleep 0.2; done", check=True)
    try:
        done = daemon.docker("logs", "-f", "follow1", timeout=30, check=True)
        assert done.stdout == b"line 1\nline 2\nline 3\n"
    finally:
        daemon.docker("rm", "-f", "follow1")


def test_run_detached_with_a_published_port(daemon: Daemon) -> None:
    import urllib.error
    import urllib.request

    daemon.docker("run", "-d", "--name", "httpd1", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80",
                  check=True)
    try:
        mapping = daemon.docker("port", "httpd1", "80", check=True).stdout.decode().strip()
        host, _, port = mapping.rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        assert f"127.0.0.1:{port}->80/tcp" in daemon.docker("ps", "--format", "{{.Ports}}", check=True).stdout.decode()

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
            except urllib.error.HTTPError as err:
                return err.code == 404  # busybox httpd without an index: it answered
            except OSError:
                return False
            return True

        wait_until(answers, what="httpd behind the published port")
    finally:
        daemon.docker("rm", "-f", "httpd1")


def test_more_verbs_pause_restart_rename_update_prune_df(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "verbs1", "busybox", "sleep", "300", check=True)
    try:
        daemon.docker("pause", "verbs1", check=True)
        assert json.loads(daemon.docker("inspect", "verbs1", check=True).stdout)[0]["State"]["Status"] == "paused"
        daemon.docker("unpause", "verbs1", check=True)
        pid = json.loads(daemon.docker("inspect", "verbs1", check=True).stdout)[0]["State"]["Pid"]
        daemon.docker("restart", "-t", "0", "verbs1", check=True)
        state = json.loads(daemon.docker("inspect", "verbs1", check=True).stdout)[0]["State"]
        assert state["Running"] and state["Pid"] != pid
        daemon.docker("rename", "verbs1", "verbs2", check=True)
        daemon.docker("update", "--memory", "64m", "verbs2", check=True)
        inspect = json.loads(daemon.docker("inspect", "verbs2", check=True).stdout)[0]
        assert inspect["HostConfig"]["Memory"] == 64 << 20
        top = daemon.docker("top", "verbs2", check=True).stdout.decode()
        assert "sleep 300" in top
        df = daemon.docker("system", "df", check=True).stdout.decode()
        assert "Images" in df and "Containers" in df
        assert daemon.docker("history", "busybox", check=True).stdout.startswith(b"IMAGE")
    finally:
        daemon.docker("rm", "-f", "verbs2")
    daemon.docker("create", "--name", "stale1", "busybox", "true", check=True)
    pruned = daemon.docker("container", "prune", "-f", check=True).stdout.decode()
    assert "Total reclaimed space" in pruned
    assert b"stale1" not in daemon.docker("ps", "-a", check=True).stdout
    daemon.docker("volume", "create", "spare1", check=True)
    daemon.docker("volume", "prune", "-f", check=True)  # at 1.41: every unused volume
    assert b"spare1" not in daemon.docker("volume", "ls", check=True).stdout
    daemon.docker("network", "create", "spare2", check=True)
    daemon.docker("network", "prune", "-f", check=True)
    assert b"spare2" not in daemon.docker("network", "ls", check=True).stdout


def test_events_from_the_shell_reach_the_api(daemon: Daemon) -> None:
    from tests.pouchd.conftest import UnixHTTPConnection

    conn = UnixHTTPConnection(daemon.socket, timeout=30)
    try:
        conn.request("GET", '/v1.41/events?filters={"type":["container"],"event":["destroy"]}')
        response = conn.getresponse()
        assert response.status == 200
        assert daemon.pouchsh("-c", "run --rm --name fromshell2 busybox true").returncode == 0
        event = json.loads(response.readline())
    finally:
        conn.close()
    assert event["Action"] == "destroy" and event["Actor"]["Attributes"]["name"] == "fromshell2"
