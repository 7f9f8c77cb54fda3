"""The container verbs through the manager, against the real containerd."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import AlreadyExists, Conflict, Interrupted, InvalidArgument, NotFound, PouchError
from tests.containers.conftest import new_facade
from tests.containers.helpers import EMPTY, leftovers, opts, stdio
from tests.support.poll import poll

pytestmark = pytest.mark.containerd


def test_foreground_run_streams_output_and_returns_the_exit_status(mgr: Any, roots: Any) -> None:
    io_ = stdio()
    code = mgr.containers.run(opts("sh", "-c", "echo out; echo err >&2; exit 3", name="fg"), detach=False, stdio=io_)
    assert code == 3
    assert io_.stdout.getvalue() == b"out\n" and io_.stderr.getvalue() == b"err\n"
    (record,) = mgr.containers.list(all=True)
    assert (record["name"], record["status"], record["exit_code"]) == ("fg", "exited", 3)
    assert record["state"].startswith("Exited (3)")
    assert sorted(mgr.containers.logs("fg").splitlines()) == ["err", "out"]
    assert mgr.containers.list() == []  # not running: only with -a
    mgr.containers.remove(["fg"])
    assert leftovers(mgr, roots) == EMPTY


def test_stdin_is_forwarded_and_closed(mgr: Any) -> None:
    io_ = stdio(b"line one\nline two\n")
    code = mgr.containers.run(opts("sh", "-c", "wc -l", interactive=True, rm=True), detach=False, stdio=io_)
    assert code == 0 and io_.stdout.getvalue().strip() == b"2"


def test_run_rm_removes_everything(mgr: Any, roots: Any) -> None:
    code = mgr.containers.run(opts("true", rm=True, name="gone"), detach=False, stdio=stdio())
    assert code == 0
    assert leftovers(mgr, roots) == EMPTY


def test_detached_life_cycle(mgr: Any, roots: Any) -> None:
    c = mgr.containers
    record = c.run(opts("sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
                        name="web", label=["tier=front"]), detach=True)
    assert record["status"] == "running" and record["pid"] > 0 and record["labels"] == {"tier": "front"}
    poll(lambda: "started" in c.logs("web"), "web's first line in its log", 10)
    (row,) = c.list()
    assert row["id"] == record["id"][:12] and row["state"].startswith("Up ")
    assert c.list(quiet=True) == [record["id"][:12]]
    assert c.list(quiet=True, no_trunc=True) == [record["id"]]

    assert c.pause(["web"])[0]["status"] == "paused"
    with pytest.raises(Conflict):
        c.pause(["web"])
    assert c.list(filters=["status=paused"])[0]["state"].endswith("(Paused)")
    assert c.unpause(["web"])[0]["status"] == "running"

    with pytest.raises(Conflict, match="stop it first"):
        c.remove(["web"])
    stopped = c.stop(["web"], timeout=5)[0]
    assert (stopped["status"], stopped["exit_code"]) == ("exited", 0)
    assert "bye" in c.logs("web")
    assert c.wait(["web"]) == [0]

    started = c.start(["web"])[0]
    assert started["status"] == "running"
    restarted = c.restart(["web"], timeout=5)[0]
    assert restarted["status"] == "running" and restarted["pid"] != started["pid"]
    killed = c.kill(["web"], signal="KILL")[0]
    assert c.wait(["web"]) == [137]
    assert killed["id"] == record["id"]
    c.remove(["web"])
    assert leftovers(mgr, roots) == EMPTY


def test_rm_force_removes_a_running_container(mgr: Any, roots: Any) -> None:
    rid = mgr.containers.run(opts("sleep", "60"), detach=True)["id"]
    assert mgr.containers.remove([rid[:6]], force=True) == [rid]
    assert leftovers(mgr, roots) == EMPTY


def test_inspect_and_prefixes(mgr: Any) -> None:
    c = mgr.containers
    first = c.create(opts("true", name="x1", env=["A=1"], workdir="/tmp", user="nobody", hostname="box"))
    c.create(opts("true", name="x2"))
    info = c.inspect(first["id"][:5])
    assert info["name"] == "x1" and info["status"] == "created" and info["state"] == "Created"
    assert "A=1" in info["env"] and info["workdir"] == "/tmp" and info["user"]["uid"] == 65534
    assert info["hostname"] == "box" and info["spec"]["process"]["args"] == ["true"]
    assert info["stop_signal"] == "SIGTERM" and info["stop_timeout"] == 10
    with pytest.raises(NotFound):
        c.inspect("nosuch")
    with pytest.raises(InvalidArgument):
        c.inspect("bad/name")
    ids = [r["id"] for r in c.list(all=True, no_trunc=True)]
    common = ""
    for i in range(64):  # the two ids share no prefix longer than this
        if ids[0][i] != ids[1][i]:
            break
        common += ids[0][i]
    if common:
        with pytest.raises(Conflict, match="ambiguous"):
            c.inspect(common)


def test_ps_flags_and_filters(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("true", name="a", label=["k=1"]), detach=False, stdio=stdio())
    c.create(opts("true", name="b", label=["k=2"]))
    c.run(opts("sleep", "60", name="run1"), detach=True)
    assert [r["name"] for r in c.list()] == ["run1"]
    assert [r["name"] for r in c.list(all=True)] == ["run1", "b", "a"]
    assert [r["name"] for r in c.list(latest=True)] == ["run1"]
    assert [r["name"] for r in c.list(last=2)] == ["run1", "b"]
    assert [r["name"] for r in c.list(all=True, filters=["label=k"])] == ["b", "a"]
    assert [r["name"] for r in c.list(all=True, filters=["label=k=2"])] == ["b"]
    # docker's combination: one key's values OR (name), labels all required, different keys AND
    assert [r["name"] for r in c.list(all=True, filters=["name=a", "name=b"])] == ["b", "a"]
    assert [r["name"] for r in c.list(all=True, filters=["label=k", "label=k=1"])] == ["a"]
    assert [r["name"] for r in c.list(all=True, filters=["label=k", "name=run"])] == []
    assert [r["name"] for r in c.list(filters=["status=exited"])] == ["a"]
    assert [r["name"] for r in c.list(all=True, filters=["exited=0"])] == ["a"]
    assert [r["name"] for r in c.list(all=True, filters=["name=run"])] == ["run1"]
    assert [r["name"] for r in c.list(all=True, filters=["before=b"])] == ["a"]
    assert [r["name"] for r in c.list(all=True, filters=["ancestor=busybox"])] == ["run1", "b", "a"]
    with pytest.raises(InvalidArgument):
        c.list(filters=["colour=red"])
    record = c.list(all=True, no_trunc=True)[0]
    assert set(record) >= {"id", "name", "image", "command", "status", "state", "created", "ports", "labels",
                           "networks", "exit_code", "pid", "mounts", "restart"}
    pruned = c.prune()
    assert pruned["count"] == 2 and [r["name"] for r in c.list(all=True)] == ["run1"]


def test_ps_is_one_list_of_containers_and_one_of_tasks(mgr: Any) -> None:
    for i in range(3):
        mgr.containers.create(opts("true", name=f"n{i}"))
    calls: list[str] = []
    client = mgr.ctrd
    original_call, original_future = client.call, client.future

    def counting(original: Any) -> Any:
        def call(method: Any, request: Any, what: str, **kw: Any) -> Any:
            calls.append(what)
            return original(method, request, what, **kw)

        return call

    client.call = counting(original_call)  # type: ignore[method-assign]
    client.future = counting(original_future)  # type: ignore[method-assign]  # Tasks.List runs alongside
    try:
        assert len(mgr.containers.list(all=True)) == 3
    finally:
        del client.call, client.future
    assert sorted(calls) == ["container list", "task list"]


def test_names_are_unique_and_renamed(mgr: Any, roots: Any) -> None:
    c = mgr.containers
    c.create(opts("true", name="one"))
    with pytest.raises(AlreadyExists):
        c.create(opts("true", name="one"))
    c.rename("one", "two")
    c.create(opts("true", name="one"))  # the old name is free again
    with pytest.raises(AlreadyExists):
        c.rename("one", "two")
    with pytest.raises(InvalidArgument):
        c.rename("one", "bad name")
    c.remove(["one", "two"])
    assert leftovers(mgr, roots) == EMPTY


def test_generated_names(mgr: Any) -> None:
    record = mgr.containers.create(opts("true"))
    assert "_" in record["name"]


def test_two_managers_racing_for_a_name_one_wins(containerd_address: str, namespace: str, busybox_image: str,
                                                 roots: Any, mgr: Any) -> None:
    results: list[str] = []
    barrier = threading.Barrier(2)

    def contender() -> None:
        facade = new_facade(containerd_address, namespace, roots)
        try:
            barrier.wait()
            facade.containers.create(opts("true", name="race"))
            results.append("created")
        except AlreadyExists:
            results.append("already-exists")
        finally:
            facade.close()

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already-exists", "created"]
    assert len(mgr.containers.list(all=True)) == 1


@pytest.mark.parametrize(
    ("image", "args", "kw", "error"),
    [
        ("nosuch:latest", ["true"], {"pull": "never"}, NotFound),
        ("busybox", ["/no/such/command"], {}, PouchError),
        ("busybox", ["true"], {"user": "ghost"}, InvalidArgument),
        ("busybox", ["true"], {"workdir": "relative"}, InvalidArgument),
        ("busybox", ["true"], {"cap_add": ["FLYING"]}, InvalidArgument),
    ],
)
def test_a_failed_run_leaves_nothing_behind(mgr: Any, roots: Any, image: str, args: list[str], kw: dict, error: type) -> None:
    from managers.options import CreateOptions

    kw.setdefault("network", "none")
    o = CreateOptions.parse(image, args, name="doomed", **kw)
    with pytest.raises(error):
        mgr.containers.run(o, detach=False, stdio=stdio())
    with pytest.raises(error):
        mgr.containers.run(o, detach=True)
    assert leftovers(mgr, roots) == EMPTY
    mgr.containers.create(opts("true", name="doomed"))  # the name was released


def test_exec(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("sleep", "60", name="box", env=["BASE=1"]), detach=True)
    out = stdio(b"piped\n")
    assert c.exec("box", ["sh", "-c", "cat; echo $BASE $EXTRA; pwd; id -u; exit 4"], interactive=True,
                  env=["EXTRA=2"], workdir="/tmp", user="nobody", stdio=out) == 4
    assert out.stdout.getvalue() == b"piped\n1 2\n/tmp\n65534\n"
    detached = c.exec("box", ["touch", "/tmp/marker"], detach=True)
    assert detached["pid"] > 0
    poll(lambda: c.exec("box", ["test", "-f", "/tmp/marker"], stdio=stdio()) == 0,
         "the detached exec's marker", 10)
    c.stop(["box"], timeout=0)
    with pytest.raises(Conflict, match="not running"):
        c.exec("box", ["true"], stdio=stdio())


def test_top_port_update_and_cp(mgr: Any, tmp_path: Path) -> None:
    c = mgr.containers
    c.run(opts("sleep", "60", name="box", memory="64m"), detach=True)
    # Start returns once runc has told the init to exec; the exec itself may still be under way.
    poll(lambda: [p["cmd"] for p in c.top("box")] == ["sleep 60"], "top to show sleep 60", 10)
    assert c.top("box", ["-o", "pid,comm"])[0]["command"] == "sleep"
    assert c.port("box") == []
    updated = c.update(["box"], memory=128 << 20, pids_limit=20, restart="unless-stopped")[0]
    assert updated["restart"] == "unless-stopped"
    info = c.inspect("box")
    assert info["spec"]["linux"]["resources"]["memory"]["limit"] == 128 << 20
    assert info["spec"]["linux"]["resources"]["pids"] == {"limit": 20}
    with pytest.raises(InvalidArgument, match="on-failure"):
        c.update(["box"], restart="on-failure")

    (tmp_path / "in.txt").write_text("from host\n")
    c.copy(str(tmp_path / "in.txt"), "box:/tmp/")
    c.copy(str(tmp_path / "in.txt"), "box:/tmp/renamed.txt")
    assert c.exec("box", ["test", "-f", "/tmp/renamed.txt"], stdio=stdio()) == 0
    out = stdio()
    assert c.exec("box", ["cat", "/tmp/in.txt"], stdio=out) == 0 and out.stdout.getvalue() == b"from host\n"
    c.copy("box:/etc/passwd", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text().startswith("root:")
    c.copy("box:/etc", str(tmp_path))
    assert (tmp_path / "etc" / "group").exists()
    with pytest.raises(NotFound):
        c.copy("box:/nonexistent", str(tmp_path / "x"))
    with pytest.raises(InvalidArgument):
        c.copy(str(tmp_path / "in.txt"), str(tmp_path / "out.txt"))

    c.stop(["box"], timeout=0)  # a stopped container: through its snapshot
    c.copy(str(tmp_path / "in.txt"), "box:/root/")
    c.copy("box:/root/in.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "from host\n"


def test_cp_cannot_escape_the_container_through_a_symlink(mgr: Any, tmp_path: Path) -> None:
    c = mgr.containers
    c.run(opts("sh", "-c", "ln -s / /escape && sleep 60", name="box"), detach=True)
    poll(lambda: c.exec("box", ["test", "-L", "/escape"], stdio=stdio()) == 0, "the /escape symlink", 10)
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InvalidArgument, match="does not exist in the container"):
        c.copy(str(tmp_path / "f.txt"), f"box:/escape{victim}/f.txt")  # resolved inside the container
    assert not (victim / "f.txt").exists()


def test_log_rotation_and_log_options(mgr: Any) -> None:
    c = mgr.containers
    script = "i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
    c.run(opts("sh", "-c", script, name="chatty", log_opt=["max-size=4k", "max-file=3"]), detach=True)
    assert c.wait(["chatty"]) == [0]
    path = Path(c.inspect("chatty")["log_path"])
    poll(lambda: "line-199-" in path.read_text(), "the last line in the log file", 10)
    files = sorted(p.name for p in path.parent.iterdir() if "json.log" in p.name and not p.name.endswith(".lock"))
    assert files == [path.name, path.name + ".1", path.name + ".2"]
    assert all(p.stat().st_size <= 4096 for p in path.parent.iterdir() if p.name.startswith(path.name + "."))
    lines = c.logs("chatty").splitlines()
    assert lines[-1].startswith("line-199-") and len(lines) < 200  # the oldest were rotated away
    assert c.logs("chatty", tail=2).splitlines() == lines[-2:]
    stamped = c.logs("chatty", tail=1, timestamps=True)
    assert stamped.split(" ", 1)[0].endswith("Z") and "line-199" in stamped
    assert c.logs("chatty", since="1h", until="1h") == ""


def test_logs_follow_ends_when_the_container_stops(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("sh", "-c", "echo a; sleep 1; echo b", name="f"), detach=True)
    assert [line for line in c.logs("f", follow=True)] == ["a", "b"]


def test_foreground_interrupt_sends_the_stop_signal(mgr: Any) -> None:
    c = mgr.containers
    io_ = stdio()
    timer = threading.Timer(1.0, io_.cancel.set)
    timer.start()
    with pytest.raises(Interrupted):
        c.run(opts("sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; while true; do sleep 0.1; done",
                   name="fg"), detach=False, stdio=io_)
    timer.cancel()
    assert b"got-term" in io_.stdout.getvalue()
    (record,) = c.list(all=True)
    assert (record["status"], record["exit_code"]) == ("exited", 5)


def test_restart_policies(mgr: Any) -> None:
    c = mgr.containers
    record = c.run(opts("sleep", "60", name="keep", restart="always"), detach=True)
    labels = c.inspect("keep")["all_labels"]
    assert labels["containerd.io/restart.status"] == "running" and record["restart"] == "always"
    assert labels["containerd.io/restart.loguri"].endswith("/stdout.fifo")  # read by the log collector
    c.stop(["keep"], timeout=0)
    assert c.inspect("keep")["all_labels"]["containerd.io/restart.status"] == "stopped"
    with pytest.raises(InvalidArgument, match="containerd 1.6"):
        c.create(opts("true", restart="on-failure:2"))


def test_resource_flags_reach_the_cgroup(mgr: Any) -> None:
    c = mgr.containers
    record = c.run(opts("sleep", "60", pids_limit=42, memory="32m", ulimit=["nofile=321:321"]), detach=True)
    cgroup = f"{mgr.namespace}/{record['id']}"
    v1, v2 = Path("/sys/fs/cgroup/pids", cgroup), Path("/sys/fs/cgroup", cgroup)
    base = v1 if v1.exists() else v2
    assert (base / "pids.max").read_text().strip() == "42"
    memory = Path("/sys/fs/cgroup/memory", cgroup, "memory.limit_in_bytes")
    assert int((memory if memory.exists() else v2 / "memory.max").read_text()) == 32 << 20
    c.update([record["id"]], pids_limit=50)
    assert (base / "pids.max").read_text().strip() == "50"
    out = stdio()
    assert c.exec(record["id"], ["sh", "-c", "ulimit -n"], stdio=out) == 0 and out.stdout.getvalue() == b"321\n"


def test_read_only_and_privileged(mgr: Any) -> None:
    out = stdio()
    assert mgr.containers.run(opts("touch", "/x", read_only=True, rm=True), detach=False, stdio=out) != 0
    out = stdio()
    code = mgr.containers.run(opts("sh", "-c", "grep CapEff /proc/self/status", privileged=True, rm=True),
                              detach=False, stdio=out)
    assert code == 0 and not out.stdout.getvalue().strip().endswith(b"00000000a80425fb")


def test_entrypoint_hostname_and_env_file(mgr: Any, tmp_path: Path) -> None:
    (tmp_path / "vars").write_text("FROM_FILE=yes\n")
    out = stdio()
    code = mgr.containers.run(
        opts("-c", "echo $FROM_FILE $(hostname) $HOSTNAME", entrypoint="sh", hostname="myhost",
             env_file=["vars"], cwd=str(tmp_path), rm=True),
        detach=False, stdio=out,
    )
    assert code == 0 and out.stdout.getvalue() == b"yes myhost myhost\n"


def test_detached_rm_removes_the_container_after_it_exits(mgr: Any, roots: Any) -> None:
    mgr.containers.run(opts("sh", "-c", "sleep 0.3", rm=True, name="brief", volumes=["/anon"]), detach=True)
    assert [r["name"] for r in mgr.containers.list()] == ["brief"]
    poll(lambda: mgr.containers.list(all=True) == [], "--rm to remove the exited container", 20)
    poll(lambda: leftovers(mgr, roots) == EMPTY, lambda: f"nothing left behind: {leftovers(mgr, roots)}", 10)
    assert mgr.volumes.list() == []  # its anonymous volume went with it, as with docker's --rm


def test_start_attached_and_stop_signal(mgr: Any) -> None:
    c = mgr.containers
    c.create(opts("sh", "-c", "echo attached; exit 6", name="later"))
    out = stdio()
    assert c.start(["later"], attach=True, stdio=out) == 6 and out.stdout.getvalue() == b"attached\n"
    out = stdio()
    assert c.start(["later"], attach=True, stdio=out) == 6  # again, from exited
    assert c.logs("later").splitlines() == ["attached", "attached"]

    c.run(opts("sh", "-c", "trap 'echo usr1; exit 0' USR1; while true; do sleep 0.1; done", name="sig",
               stop_signal="USR1", stop_timeout=20), detach=True)
    poll(lambda: c.top("sig") != [] and any("sleep" in p["cmd"] for p in c.top("sig")),
         "sig's loop running", 10)
    assert c.inspect("sig")["stop_signal"] == "SIGUSR1" and c.inspect("sig")["stop_timeout"] == 20
    assert c.stop(["sig"])[0]["exit_code"] == 0
    assert "usr1" in c.logs("sig")


def test_runtime_given_as_a_path(mgr: Any) -> None:
    import shutil

    runc = shutil.which("runc")
    assert runc is not None
    out = stdio()
    assert mgr.containers.run(opts("echo", "via-path", runtime=runc, rm=True), detach=False, stdio=out) == 0
    assert out.stdout.getvalue() == b"via-path\n"


def test_exec_with_a_tty(mgr: Any) -> None:
    c = mgr.containers
    c.run(opts("sleep", "60", name="box"), detach=True)
    out = stdio()
    assert c.exec("box", ["sh", "-c", "[ -t 1 ] && echo tty; echo $TERM"], tty=True, stdio=out) == 0
    assert out.stdout.getvalue().replace(b"\r", b"").splitlines() == [b"tty", b"xterm"]


def test_many_short_ids_resolve_with_one_list(mgr: Any, roots: Any) -> None:
    for i in range(3):
        mgr.containers.create(opts("true", name=f"m{i}"))
    short = mgr.containers.list(all=True, quiet=True)
    lists: list[str] = []
    client = mgr.ctrd
    original = client.call

    def counting(method: Any, request: Any, what: str, **kw: Any) -> Any:
        if what == "container list":
            lists.append(what)
        return original(method, request, what, **kw)

    client.call = counting  # type: ignore[method-assign]
    try:
        with pytest.raises(NotFound):
            mgr.containers.remove([*short, "missing"])  # resolved first: nothing removed
        assert len(mgr.containers.list(all=True)) == 3
        lists.clear()
        assert len(mgr.containers.remove(short)) == 3
    finally:
        del client.call
    assert lists == ["container list"]
    assert leftovers(mgr, roots) == EMPTY


def test_rm_reclaims_fifo_directories_a_killed_pouchsh_left(mgr: Any, roots: Any) -> None:
    cid = mgr.containers.create(opts("true", name="orphan"))["id"]
    fifo_root = roots[1] / "fifo" / mgr.namespace
    for name in (f"{cid[:32]}-abc123", f"{cid[:20]}-exec-0a1b2c-def456"):
        (fifo_root / name).mkdir(parents=True)
    (fifo_root / "someone-else-xyz").mkdir()
    mgr.containers.remove(["orphan"])
    assert sorted(p.name for p in fifo_root.iterdir()) == ["someone-else-xyz"]
    (fifo_root / "someone-else-xyz").rmdir()
