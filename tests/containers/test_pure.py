"""Pure parts of the container manager: names, create options, the OCI spec, records, the log reader."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from managers import records
from managers.images import ImageConfig
from managers.logs import follow_entries, read_entries
from managers.names import NameStore, new_id, resolve, validate_name
from managers.options import CreateOptions, parse_ulimit
from managers.spec import DEFAULT_CAPS, build_spec, image_args, merge_env, resolve_user
from managers.times import parse_time

# -- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "web", "web_1", "a..b", "x-", "A.b-c_d", "9lives"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", ".x", "-x", "_x", "a/b", "café", "a b", "x" * 129, "../etc"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_name(name)


def test_new_id_is_64_hex_with_a_non_numeric_short_form() -> None:
    for _ in range(50):
        cid = new_id()
        assert len(cid) == 64 and int(cid, 16) >= 0 and not cid[:12].isdigit()


def test_resolve_exact_name_id_and_prefix() -> None:
    a, b = "ab" + "0" * 62, "ac" + "1" * 62
    entries = [(a, "web"), (b, "db")]
    assert resolve("web", entries) == a
    assert resolve(b, entries) == b
    assert resolve("ab", entries) == a
    with pytest.raises(Conflict, match="ambiguous"):
        resolve("a", entries)
    with pytest.raises(NotFound):
        resolve("nothere", entries)
    with pytest.raises(InvalidArgument):
        resolve("bad/ref", entries)


def test_a_name_that_is_an_id_prefix_of_another_container_means_the_name() -> None:
    a, b = "ab" + "0" * 62, "cd" + "1" * 62
    assert resolve("ab", [(a, "x"), (b, "ab")]) == b


def _store(tmp_path: Path, live: set[str]) -> NameStore:
    return NameStore(tmp_path / "names", exists=lambda cid: cid in live)


def test_reservation_is_exclusive_and_released(tmp_path: Path) -> None:
    live: set[str] = set()
    store = _store(tmp_path, live)
    held = store.reserve("web", "a" * 64)
    with pytest.raises(AlreadyExists, match="being created"):
        store.reserve("web", "b" * 64)  # the first creation is still in progress (its file is locked)
    live.add("a" * 64)
    held.commit()
    with pytest.raises(AlreadyExists, match="in use by container aaaaaaaaaaaa"):
        store.reserve("web", "b" * 64)
    store.release("web", "a" * 64)
    store.reserve("web", "b" * 64).commit()


def test_stale_reservation_of_a_vanished_container_is_reclaimed(tmp_path: Path) -> None:
    store = _store(tmp_path, set())
    store.reserve("web", "a" * 64).commit()  # committed, but no such container exists any more
    assert store.reserve("web", "b" * 64).id == "b" * 64


def test_name_race_between_threads_has_one_winner(tmp_path: Path) -> None:
    live: set[str] = set()
    results: list[str] = []
    barrier = threading.Barrier(8)

    def contender(i: int) -> None:
        store = _store(tmp_path, live)  # each its own store, as two processes would have
        barrier.wait()
        try:
            store.reserve("race", f"{i:064x}")
            results.append("won")
        except AlreadyExists:
            results.append("lost")

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]


# -- options -----------------------------------------------------------------------------------------


def test_options_parse_docker_spellings(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\n\nFROM_HOST\nMISSING\n")
    opts = CreateOptions.parse(
        "busybox", ["sh"], environ={"FROM_HOST": "h", "B": "b"}, cwd=str(tmp_path),
        env=["B", "C=3", "D="], env_file=["env"], label=["tier=db", "flag"], memory="64m", cpus="0.5",
        pids_limit=50, ulimit=["nofile=100:200"], shm_size=1 << 20, stop_signal="hup", stop_timeout=3,
        log_opt=["max-size=1k", "max-file=2"], restart="always",
    )
    assert opts.env == ["A=1", "FROM_HOST=h", "B=b", "C=3", "D="]
    assert opts.labels == {"tier": "db", "flag": ""}
    assert (opts.memory, opts.cpus, opts.pids_limit, opts.shm_size) == (64 << 20, 0.5, 50, 1 << 20)
    assert opts.stop_signal == "SIGHUP" and opts.stop_timeout == 3
    assert (opts.log_max_size, opts.log_max_file, opts.restart) == (1024, 2, "always")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"restart": "on-failure:3"}, "not supported on containerd 1.6"),
        ({"restart": "sometimes"}, "--restart"),
        ({"memory": "lots"}, "--memory"),
        ({"memory": "1k"}, "minimum is 6 MiB"),
        ({"cpus": "x"}, "--cpus"),
        ({"ulimit": ["nofile"]}, "--ulimit"),
        ({"ulimit": ["nofile=10:5"]}, "soft limit"),
        ({"label": ["pouchsh/name=x"]}, "reserved"),
        ({"label": ["containerd.io/gc.root=x"]}, "reserved"),
        ({"stop_signal": "SIGNOPE"}, "unknown signal"),
        ({"log_opt": ["compress=true"]}, "unknown option"),
        ({"log_opt": ["max-file=3"]}, "needs max-size"),
        ({"pull": "sometimes"}, "--pull"),
        ({"env": ["=x"]}, "invalid variable"),
        ({"runtime": "crun!"}, "--runtime"),
        ({"name": "-bad"}, "invalid container name"),
        ({"add_host": ["nocolon"]}, "--add-host"),
    ],
)
def test_bad_option_values_are_invalid_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        CreateOptions.parse("busybox", **kwargs)


def test_ulimit() -> None:
    assert parse_ulimit("nproc=5").soft == 5 and parse_ulimit("nproc=5").hard == 5


# -- spec --------------------------------------------------------------------------------------------

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:44::/var/www:/bin/false\n"
GROUP = b"root:x:0:\nweb:x:44:\nextra:x:99:www,bob\n"


def _files(path: str) -> bytes | None:
    return {"/etc/passwd": PASSWD, "/etc/group": GROUP}.get(path)


def test_merge_env_replaces_in_place_and_appends() -> None:
    assert merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"]


def test_image_args_follow_docker() -> None:
    cfg = ImageConfig(entrypoint=("/ep",), cmd=("default",))
    assert image_args(cfg, [], None) == ["/ep", "default"]
    assert image_args(cfg, ["x"], None) == ["/ep", "x"]
    assert image_args(cfg, [], ["/other"]) == ["/other"]  # a new entrypoint drops the image's Cmd
    assert image_args(cfg, ["y"], []) == ["y"]
    with pytest.raises(InvalidArgument, match="no command"):
        image_args(ImageConfig(), [], None)


def test_resolve_user() -> None:
    assert resolve_user("www", _files) == {"uid": 33, "gid": 44, "additionalGids": [44, 99]}
    assert resolve_user("1000:5", _files) == {"uid": 1000, "gid": 5, "additionalGids": [5]}
    assert resolve_user("www:root", _files)["gid"] == 0
    with pytest.raises(InvalidArgument, match="no user 'bob'"):
        resolve_user("bob", _files)


def test_default_spec_is_containerds_with_dockers_defaults() -> None:
    opts = CreateOptions.parse("busybox", ["sh"])
    spec = build_spec(opts, namespace="ns", container_id="c1", image_config=ImageConfig(env=("PATH=/x",)),
                      read_file=_files, hostname="h")
    assert spec["ociVersion"] == "1.0.2-dev" and spec["root"] == {"path": "rootfs"}
    assert spec["process"]["capabilities"]["bounding"] == DEFAULT_CAPS
    assert spec["process"]["env"] == ["PATH=/x", "HOSTNAME=h"]
    # docker's, not containerd's: the daemon's open-files limit, no-new-privileges only when asked
    assert "rlimits" not in spec["process"] and spec["process"]["noNewPrivileges"] is False
    assert spec["linux"]["cgroupsPath"] == "/ns/c1"
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/run"]
    assert "/sys/fs/cgroup" in spec["linux"]["readonlyPaths"]
    assert len(spec["linux"]["resources"]["devices"]) == 10


def test_flags_shape_the_spec() -> None:
    opts = CreateOptions.parse(
        "busybox", [], tty=True, user="www", workdir="/srv", read_only=True, cap_add=["net_admin"],
        cap_drop=["CHOWN"], memory="64m", cpus="0.5", pids_limit=10, ulimit=["nproc=7"], shm_size="1m",
        annotation=["a=b"], env=["A=1"],
    )
    spec = build_spec(opts, namespace="ns", container_id="c1", image_config=ImageConfig(cmd=("sh",), working_dir="/w"),
                      read_file=_files, hostname="h",
                      mounts=[{"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": []}])
    p = spec["process"]
    assert p["terminal"] and "TERM=xterm" in p["env"] and "A=1" in p["env"]
    assert p["user"]["uid"] == 33 and p["cwd"] == "/srv" and spec["root"]["readonly"]
    assert "CAP_NET_ADMIN" in p["capabilities"]["effective"] and "CAP_CHOWN" not in p["capabilities"]["effective"]
    r = spec["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20} and r["cpu"] == {"quota": 50000, "period": 100000} and r["pids"] == {"limit": 10}
    assert {"type": "RLIMIT_NPROC", "hard": 7, "soft": 7} in p["rlimits"]
    shm = [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]
    assert len(shm) == 1 and "size=1024k" in shm[0]["options"]
    assert len([m for m in spec["mounts"] if m["destination"] == "/run"]) == 1  # replaced, not doubled
    assert spec["annotations"] == {"a": "b"}


def test_privileged_and_host_network() -> None:
    opts = CreateOptions.parse("busybox", ["sh"], privileged=True)
    spec = build_spec(opts, namespace="ns", container_id="c", image_config=ImageConfig(), read_file=_files, hostname="h",
                      network_mode="host")
    assert len(spec["process"]["capabilities"]["bounding"]) > 30
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "network" not in [n["type"] for n in spec["linux"]["namespaces"]]


def test_unknown_capability() -> None:
    with pytest.raises(InvalidArgument, match="unknown capability"):
        build_spec(CreateOptions.parse("b", ["sh"], cap_add=["FLY"]), namespace="n", container_id="c",
                   image_config=ImageConfig(), read_file=_files, hostname="h")


# -- records -----------------------------------------------------------------------------------------


def test_human_ago() -> None:
    assert [records.human_ago(s) for s in (0.2, 1, 5, 61, 600, 3600, 7200, 86400 * 3)] == [
        "Less than a second", "1 second", "5 seconds", "About a minute", "10 minutes", "About an hour",
        "2 hours", "3 days",
    ]


def test_record_of_an_exited_container_with_saved_exit() -> None:
    c = SimpleNamespace(
        id="f" * 64, image="docker.io/library/busybox:latest", created_at=None, runtime="r", snapshotter="s",
        snapshot_key="k", spec={"process": {"args": ["sh", "-c", "exit 3"]}, "mounts": []},
        labels={"pouchsh/name": "job", "pouchsh/started": "true", "pouchsh/exit-code": "3",
                "pouchsh/finished-at": "2026-01-01T00:00:00Z", "app": "x", "pouchsh/networks": "bridge,back"},
    )
    r = records.build_record(c, None, now=1767225660.0)  # one minute later
    assert (r["status"], r["exit_code"], r["state"]) == ("exited", 3, "Exited (3) About a minute ago")
    assert r["command"] == "sh -c 'exit 3'" and r["labels"] == {"app": "x"} and r["networks"] == ["bridge", "back"]


# -- log reader --------------------------------------------------------------------------------------


def _line(text: str, t: str, stream: str = "stdout") -> str:
    return json.dumps({"log": text, "stream": stream, "time": t}) + "\n"


def test_read_entries_across_rotated_files(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    Path(f"{log}.2").write_text(_line("one\n", "2026-01-01T00:00:01.000000001Z"))
    Path(f"{log}.1").write_text(_line("two\n", "2026-01-01T00:00:02Z", "stderr"))
    log.write_text(_line("three\n", "2026-01-01T00:00:03.5Z") + '{"torn": ')
    assert [e.text for e in read_entries(log)] == ["one\n", "two\n", "three\n"]
    assert [e.text for e in read_entries(log, tail=2)] == ["two\n", "three\n"]
    since = parse_time("2026-01-01T00:00:02Z", "--since")
    until = parse_time("2026-01-01T00:00:02.9Z", "--until")
    assert [e.text for e in read_entries(log, since=since, until=until)] == ["two\n"]
    assert read_entries(log, tail=0) == []


def test_parse_time_forms() -> None:
    now = 10**18
    assert parse_time("10s", "--since", now_ns=now) == now - 10 * 10**9
    assert parse_time(5 * 10**9, "--since", now_ns=now) == now - 5 * 10**9  # a Duration value
    assert parse_time("1700000000", "--since") == 1700000000 * 10**9
    assert parse_time("2026-01-01", "--since") == parse_time("2026-01-01T00:00:00", "--since")  # both local
    with pytest.raises(InvalidArgument):
        parse_time("yesterday", "--since")


def test_follow_sees_new_lines_and_rotation_and_ends_when_stopped(tmp_path: Path) -> None:
    log = tmp_path / "c-json.log"
    log.write_text(_line("old\n", "2026-01-01T00:00:01Z"))
    running = threading.Event()
    running.set()
    seen: list[str] = []
    it = follow_entries(log, running=running.is_set)
    seen.append(next(it).text)
    with open(log, "a") as f:
        f.write(_line("new\n", "2026-01-01T00:00:02Z"))
    seen.append(next(it).text)
    log.rename(f"{log}.1")  # the logger rotates
    log.write_text(_line("rotated\n", "2026-01-01T00:00:03Z"))
    seen.append(next(it).text)
    running.clear()
    assert list(it) == []
    assert seen == ["old\n", "new\n", "rotated\n"]


# -- declarations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["run", "create"])
def test_run_flags_that_name_live_objects_complete_them(verb: str) -> None:
    from pouchsh.commands import load

    cmd = load().get(verb)
    assert cmd is not None
    kinds = {f.name: f.complete or f.type for f in cmd.flags}
    assert kinds["network"] == "network" and kinds["volume"] == "volume"
    assert kinds["volumes-from"] == "container"
    assert [p.type for p in cmd.params][:1] == ["image"]
