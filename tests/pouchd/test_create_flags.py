"""The create fields behind the shell's run flags, through pouchd with the real docker CLI: healthchecks
(pouchd runs them on docker's schedule, so `docker inspect -f '{{.State.Health.Status}}'` turns healthy
with nobody waiting), devices, sysctls, security options, namespaces and the CPU/memory tunables, each
back in `docker inspect`; bad values are a clear error that leaves nothing made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pouchd.conftest import Daemon, wait_until

pytestmark = pytest.mark.containerd


def _inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    return json.loads(daemon.docker("inspect", name, check=True).stdout)[0]


def _health(daemon: Daemon, name: str) -> str:
    return daemon.docker("inspect", "--format", "{{.State.Health.Status}}", name, check=True).stdout.decode().strip()


def _names(daemon: Daemon) -> str:
    return daemon.docker("ps", "-a", "--format", "{{.Names}}", check=True).stdout.decode()


def test_health_cmd_turns_healthy_with_nobody_waiting(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "hc-ok", "--health-cmd", "test -e /bin/sh", "--health-interval", "200ms",
                  "--health-retries", "2", "busybox", "sleep", "300", check=True)
    try:
        wait_until(lambda: _health(daemon, "hc-ok") == "healthy", timeout=60, what="hc-ok to be healthy")
        inspect = _inspect(daemon, "hc-ok")
        assert inspect["Config"]["Healthcheck"] == {
            "Test": ["CMD-SHELL", "test -e /bin/sh"], "Interval": 200_000_000, "Timeout": 30_000_000_000,
            "StartPeriod": 0, "StartInterval": 5_000_000_000, "Retries": 2}
        health = inspect["State"]["Health"]
        assert health["FailingStreak"] == 0
        assert health["Log"] and health["Log"][-1]["ExitCode"] == 0
        assert "(healthy)" in daemon.docker("ps", "--format", "{{.Status}}", "--filter", "name=hc-ok",
                                            check=True).stdout.decode()
        # the shell reads the same state
        assert b"healthy" in daemon.pouchsh("-c", "inspect hc-ok | get health_state.status").stdout
    finally:
        daemon.docker("rm", "-f", "hc-ok")


def test_a_shell_container_is_probed_at_its_start_interval_by_pouchd(daemon: Daemon) -> None:
    # a 30 s interval, but a 100 ms start interval within the start period: pouchd's schedule probes at
    # the latter, so the container made by the shell turns healthy long before 30 s
    done = daemon.pouchsh("-c", "run -d --name hc-shell --health-cmd true --health-start-period 5m "
                                "--health-start-interval 100ms --health-interval 30s busybox sleep 300")
    assert done.returncode == 0, done.stderr
    try:
        wait_until(lambda: _health(daemon, "hc-shell") == "healthy", timeout=25, what="hc-shell to be healthy")
        assert _inspect(daemon, "hc-shell")["Config"]["Healthcheck"]["StartInterval"] == 100_000_000
    finally:
        daemon.docker("rm", "-f", "hc-shell")


def test_failing_check_turns_unhealthy_after_its_retries(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "hc-bad", "--health-cmd", "echo nope; exit 1",
                  "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "300", check=True)
    try:
        wait_until(lambda: _health(daemon, "hc-bad") == "unhealthy", timeout=60, what="hc-bad to be unhealthy")
        health = _inspect(daemon, "hc-bad")["State"]["Health"]
        assert health["FailingStreak"] >= 2
        assert health["Log"][-1]["ExitCode"] == 1 and health["Log"][-1]["Output"] == "nope\n"
    finally:
        daemon.docker("rm", "-f", "hc-bad")


def test_start_period_and_interval_arrive_in_nanoseconds(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "hc-sp", "--health-cmd", "true", "--health-start-period", "1m",
                  "--health-timeout", "3s", "busybox", "sleep", "1", check=True)
    try:
        check = _inspect(daemon, "hc-sp")["Config"]["Healthcheck"]
        assert check["StartPeriod"] == 60_000_000_000 and check["Timeout"] == 3_000_000_000
        assert "Health" not in _inspect(daemon, "hc-sp")["State"]  # not running: no health yet, as in docker
    finally:
        daemon.docker("rm", "-f", "hc-sp")
    # StartInterval is API 1.44 (the CLI sends it only to such a server); pouchd takes it at any version
    body = {"Image": "busybox", "Cmd": ["true"], "Healthcheck": {
        "Test": ["CMD", "true"], "StartPeriod": 60_000_000_000, "StartInterval": 300_000_000}}
    status, _, reply = daemon.request("POST", "/v1.41/containers/create?name=hc-si", json.dumps(body).encode(),
                                      {"Content-Type": "application/json"})
    assert status == 201, reply
    try:
        check = _inspect(daemon, "hc-si")["Config"]["Healthcheck"]
        assert check["Test"] == ["CMD", "true"] and check["StartInterval"] == 300_000_000
        assert check["Interval"] == 30_000_000_000 and check["Retries"] == 3
    finally:
        daemon.docker("rm", "-f", "hc-si")
    daemon.docker("create", "--name", "hc-none", "--no-healthcheck", "busybox", "true", check=True)
    try:
        assert _inspect(daemon, "hc-none")["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    finally:
        daemon.docker("rm", "-f", "hc-none")


def test_devices_sysctls_security_and_namespaces_round_trip(daemon: Daemon) -> None:
    daemon.docker(
        "run", "-d", "--name", "kflags", "--device", "/dev/null:/dev/mynull:rw", "--sysctl", "net.ipv4.ip_forward=1",
        "--sysctl", "kernel.shmmax=12345678", "--security-opt", "no-new-privileges", "--ipc", "shareable",
        "--cpuset-cpus", "0", "--cpu-shares", "512", "--group-add", "10", "--oom-score-adj", "100",
        "--ulimit", "nofile=1024:2048", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--tmpfs", "/scratch:size=1m",
        "--add-host", "far:10.9.8.7", "-m", "64m", "--memory-reservation", "32m", "--memory-swap", "-1",
        "busybox", "sleep", "300", check=True,
    )
    try:
        host = _inspect(daemon, "kflags")["HostConfig"]
        assert host["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}]
        assert host["Sysctls"] == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}
        assert host["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["IpcMode"] == "shareable" and host["PidMode"] == ""
        assert host["CpusetCpus"] == "0" and host["CpuShares"] == 512 and host["OomScoreAdj"] == 100
        assert host["GroupAdd"] == ["10"]
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        assert host["CapAdd"] == ["CAP_NET_ADMIN"] and host["CapDrop"] == ["CAP_MKNOD"]  # as the CLI sends them
        assert host["Tmpfs"] == {"/scratch": "size=1m"} and host["ExtraHosts"] == ["far:10.9.8.7"]
        assert host["Memory"] == 64 << 20 and host["MemoryReservation"] == 32 << 20 and host["MemorySwap"] == -1
        # and they hold inside the container
        inside = daemon.docker("exec", "kflags", "sh", "-c",
                               "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; "
                               "grep NoNewPrivs /proc/self/status; ulimit -n; id -G; grep far /etc/hosts; "
                               "echo x > /dev/mynull && echo wrote", check=True).stdout.decode().split("\n")
        assert inside[0] == "1" and inside[1] == "12345678"
        assert inside[2].split() == ["NoNewPrivs:", "1"]
        assert inside[3] == "1024" and "10" in inside[4].split()
        assert "10.9.8.7" in inside[5] and inside[6] == "wrote"
    finally:
        daemon.docker("rm", "-f", "kflags")


def test_pid_host_and_privileged_round_trip(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "pidhost", "--pid", "host", "--ipc", "host", "--privileged", "--init",
                  "busybox", "true", check=True)
    try:
        host = _inspect(daemon, "pidhost")["HostConfig"]
        assert host["PidMode"] == "host" and host["IpcMode"] == "host"
        assert host["Privileged"] is True and host["Init"] is True
    finally:
        daemon.docker("rm", "-f", "pidhost")


def test_a_seccomp_profile_travels_as_its_content(daemon: Daemon, tmp_path: Path) -> None:
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    done = daemon.docker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
                         "mkdir /tmp/x && echo made || echo refused")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"refused\n"
    plain = daemon.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                          "mkdir /tmp/x && echo made")
    assert plain.stdout == b"made\n"


def test_console_size_is_the_first_terminal_size(daemon: Daemon) -> None:
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "stty size"], "Tty": True,
            "HostConfig": {"ConsoleSize": [31, 101], "NetworkMode": "none"}}
    status, _, reply = daemon.request("POST", "/v1.41/containers/create?name=csize", json.dumps(body).encode(),
                                      {"Content-Type": "application/json"})
    assert status == 201, reply
    try:
        assert _inspect(daemon, "csize")["HostConfig"]["ConsoleSize"] == [31, 101]
        daemon.docker("start", "csize", check=True)
        daemon.docker("wait", "csize", check=True)
        assert daemon.docker("logs", "csize", check=True).stdout.strip() == b"31 101"
    finally:
        daemon.docker("rm", "-f", "csize")


@pytest.mark.parametrize(("args", "message"), [
    (["--ipc", "host", "--sysctl", "kernel.shmmax=1"], "shares another IPC namespace"),
    (["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], "shares another network namespace"),
    (["--device", "/dev/no-such-device"], "No such file or directory"),
    (["--device", "/etc/passwd"], "is not a character or block device"),
    (["--security-opt", "bogus=1"], "unknown option"),
    (["--security-opt", "apparmor=x"], "AppArmor"),
    (["--pid", "container:other"], "expected host"),
    (["--ipc", "none"], "expected private, shareable, host"),
    (["--cpuset-cpus", "4096"], "is not available here"),
    (["--oom-score-adj", "5000"], "between -1000 and 1000"),
    (["--memory-swap", "10m", "-m", "64m"], "at least --memory"),
], ids=["ipc-sysctl-on-host", "net-sysctl-on-host", "no-device", "not-a-device", "bad-secopt", "apparmor", "pid-container",
        "ipc-none", "cpuset", "oom", "swap"])
def test_bad_values_are_clear_errors_and_make_nothing(daemon: Daemon, args: list[str], message: str) -> None:
    done = daemon.docker("run", "-d", "--name", "refused", *args, "busybox", "sleep", "300")
    if args[:2] == ["--security-opt", "apparmor=x"] and done.returncode == 0:
        daemon.docker("rm", "-f", "refused")
        pytest.skip("AppArmor is enabled on this host")
    assert done.returncode == 125, done.stdout
    assert b"Error response from daemon" in done.stderr and message.encode() in done.stderr, done.stderr
    assert "refused" not in _names(daemon)
    assert b"refused" not in daemon.pouchsh("--json", "-c", "ps -a").stdout


def test_a_bad_seccomp_profile_is_refused(daemon: Daemon, tmp_path: Path) -> None:
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_EXPLODE"}))
    done = daemon.docker("run", "--name", "refused", "--security-opt", f"seccomp={profile}", "busybox", "true")
    assert done.returncode == 125 and b"defaultAction must be one of" in done.stderr
    assert "refused" not in _names(daemon)


@pytest.mark.parametrize(("body", "message"), [
    ({"Healthcheck": {"Test": "true"}}, "Healthcheck.Test: expected a list of strings"),
    ({"Healthcheck": {"Test": ["CMD-SHELL", "a", "b"]}}, "expected [CMD, ARG...]"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": "1s"}}, "Healthcheck.Interval: expected an integer"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": -5}}, "must not be negative"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Frequency": 3}}, "Healthcheck.Frequency"),
    ({"HostConfig": {"Devices": [{"PathInContainer": "/dev/x"}]}}, "PathOnHost is required"),
    ({"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": 1}}}, "values must be strings"),
    # the docker CLI refuses it itself; a raw client meets pouchd's own check
    ({"HostConfig": {"Sysctls": {"kernel.randomize_va_space": "0"}}}, "not a namespaced sysctl"),
    ({"HostConfig": {"SecurityOpt": ["seccomp=/etc/shadow"]}}, "not JSON"),
    ({"HostConfig": {"ConsoleSize": [1, 2, 3]}}, "ConsoleSize"),
    ({"HostConfig": {"DnsSearch": ["example.org"], "CpuQuota": 5000}}, "HostConfig.CpuQuota, HostConfig.DnsSearch"),
    ({"HostConfig": {"DeviceCgroupRules": ["c 1:3 rwm"]}}, "HostConfig.DeviceCgroupRules"),
    ({"Domainname": "example.org"}, "Domainname"),
    # hostile values
    ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 10**15}}, "at most 24h"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Retries": -3}}, "must not be negative"),
    ({"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/../etc/passwd"}]}},
     "without '..'"),
    ({"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "dev/x"}]}}, "must be absolute"),
    ({"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1\nkernel.panic=1"}}}, "expected KEY=VALUE"),
    ({"HostConfig": {"Sysctls": {"../../proc/sysrq-trigger": "b"}}}, "expected KEY=VALUE"),
    ({"HostConfig": {"SecurityOpt": ["seccomp=" + "[" * 100_000]}}, "not JSON"),
    ({"HostConfig": {"ConsoleSize": [70_000, 80]}}, "each 0 to 65535"),
    ({"HostConfig": {"GroupAdd": ["wheel:x"]}}, "expected a group id or name"),
], ids=["test-string", "test-shape", "interval-type", "interval-negative", "unknown-health-field", "device-no-host",
        "sysctl-type", "host-sysctl", "seccomp-path", "console", "unsupported", "cgroup-rules", "domainname",
        "interval-huge", "retries-negative", "device-dotdot", "device-relative", "sysctl-newline", "sysctl-path",
        "seccomp-deep", "console-huge", "group-colon"])
def test_bad_create_bodies_are_400_naming_the_field(daemon: Daemon, body: dict[str, Any], message: str) -> None:
    full = {"Image": "busybox", "Cmd": ["true"], **body}
    status, _, reply = daemon.request("POST", "/v1.41/containers/create?name=refused", json.dumps(full).encode(),
                                      {"Content-Type": "application/json"})
    assert status == 400, reply
    assert message in json.loads(reply)["message"]
    assert "refused" not in _names(daemon)


def test_docker_py_healthcheck_devices_and_sysctls(daemon: Daemon) -> None:
    client = daemon.client()
    try:
        container = client.containers.run(
            "busybox", ["sleep", "300"], name="pyflags", detach=True,
            healthcheck={"test": ["CMD-SHELL", "test -c /dev/pynull"], "interval": 200_000_000, "retries": 2},
            devices=["/dev/null:/dev/pynull:rwm"], sysctls={"net.ipv4.tcp_syncookies": "0"},
            security_opt=["no-new-privileges:true"], cpuset_cpus="0", group_add=["20"],
        )
        try:
            wait_until(lambda: (container.reload(), container.attrs["State"].get("Health", {}).get("Status"))[1]
                       == "healthy", timeout=60, what="pyflags to be healthy")
            host = container.attrs["HostConfig"]
            assert host["Sysctls"] == {"net.ipv4.tcp_syncookies": "0"}
            assert host["Devices"][0]["PathInContainer"] == "/dev/pynull"
            assert host["GroupAdd"] == ["20"] and host["CpusetCpus"] == "0"
            code, out = container.exec_run(["cat", "/proc/sys/net/ipv4/tcp_syncookies"])
            assert (code, out) == (0, b"0\n")
        finally:
            container.remove(force=True)
    finally:
        client.close()


def test_a_body_nested_past_the_parsers_stack_is_a_400_and_the_server_goes_on(daemon: Daemon) -> None:
    body = b'{"Image": "busybox", "Labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, _, reply = daemon.request("POST", "/v1.41/containers/create?name=refused", body,
                                      {"Content-Type": "application/json"})
    assert status == 400 and b"nested too deeply" in reply, reply
    assert daemon.request("GET", "/_ping")[0] == 200
    assert "refused" not in _names(daemon)


def test_nested_filters_and_registry_auth_are_400s(daemon: Daemon) -> None:
    import base64

    filters = "[" * 3000 + "]" * 3000  # unquoted: quoted, it would pass the request line's 8 KiB
    status, _, reply = daemon.request("GET", f"/v1.41/containers/json?filters={filters}")
    assert status == 400 and b"filters: not JSON" in reply, reply
    auth = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()
    status, _, reply = daemon.request("POST", "/v1.41/images/create?fromImage=busybox&tag=latest",
                                      headers={"X-Registry-Auth": auth})
    assert status == 400 and b"X-Registry-Auth" in reply, reply
    assert daemon.request("GET", "/_ping")[0] == 200
