"""The shell's ``inspect --format`` and pouchd's ``docker inspect --format`` read one mapping
(managers.dockershapes.container_inspect over the inspect record, create options included): for a
container made with the flags whose values only the create options keep (sysctls, devices, security
options, the CPU and memory tunables, namespaces, healthcheck), both print the same thing, and the
shell's ``{{json .}}`` is pouchd's answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pouchd.conftest import Daemon

pytestmark = pytest.mark.containerd

FLAGS = (
    "--device /dev/null:/dev/mynull:rw --sysctl net.ipv4.ip_forward=1 --sysctl kernel.shmmax=12345678 "
    "--security-opt no-new-privileges --ipc shareable --cpuset-cpus 0 --cpu-shares 512 --group-add 10 "
    "--oom-score-adj 100 --ulimit nofile=1024:2048 --cap-add NET_ADMIN --tmpfs /scratch:size=1m "
    "--add-host far:10.9.8.7 -m 64m --memory-reservation 32m --memory-swap -1 --health-cmd true "
    "--health-interval 200ms --health-retries 2 --shm-size 2m"
)
#: fields whose text is the same from a Go struct and from JSON (strings, integers, lists of strings,
#: maps of strings): compared as printed
TEXT = (
    "{{.HostConfig.Sysctls}}", "{{.HostConfig.SecurityOpt}}", "{{.HostConfig.CpusetCpus}}",
    "{{.HostConfig.CpuShares}}", "{{.HostConfig.GroupAdd}}", "{{.HostConfig.OomScoreAdj}}",
    "{{.HostConfig.MemorySwap}}", "{{.HostConfig.MemoryReservation}}", "{{.HostConfig.PidMode}}",
    "{{.HostConfig.IpcMode}}", "{{.HostConfig.ExtraHosts}}", "{{.HostConfig.Memory}}", "{{.HostConfig.ShmSize}}",
    "{{.Config.Healthcheck.Test}}", "{{.Config.Healthcheck.Retries}}", "{{.State.Status}}",
    "{{index .HostConfig.Sysctls \"kernel.shmmax\"}}", "{{range .HostConfig.SecurityOpt}}<{{.}}>{{end}}",
)
#: docker's CLI prints these from its own struct types (Durations as 200ms, structs without names):
#: compared as JSON
JSON = (
    "{{json .HostConfig.Devices}}", "{{json .HostConfig.Ulimits}}", "{{json .HostConfig.Tmpfs}}",
    "{{json .HostConfig.CapAdd}}", "{{json .Config.Healthcheck}}", "{{json .HostConfig.Sysctls}}",
)


def _set(value: Any) -> Any:
    """``value`` without the zero fields docker's struct types leave out of their JSON (omitempty)."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if v not in (0, "", None, [], {})}
    if isinstance(value, list):
        return [_set(v) for v in value]
    return value


def _shell_inspect(daemon: Daemon, template: str, name: str) -> str:
    done = daemon.pouchsh("-c", f"inspect --format {json.dumps(template)} {name}")
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().removesuffix("\n")


def _docker_inspect(daemon: Daemon, template: str, name: str) -> str:
    return daemon.docker("inspect", "--format", template, name, check=True).stdout.decode().removesuffix("\n")


def _pouchd_answer(daemon: Daemon, name: str) -> Any:
    status, _, body = daemon.request("GET", f"/v1.41/containers/{name}/json")
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("maker", ["docker", "shell"])
def test_shell_and_pouchd_inspect_agree_on_the_create_options(daemon: Daemon, maker: str) -> None:
    name = f"agree-{maker}"
    if maker == "docker":
        daemon.docker("create", "--name", name, *FLAGS.split(), "busybox", "sleep", "300", check=True)
    else:
        done = daemon.pouchsh("-c", f"create --name {name} {FLAGS} busybox sleep 300")
        assert done.returncode == 0, done.stderr
    try:
        for template in TEXT:
            shell = _shell_inspect(daemon, template, name)
            assert shell == _docker_inspect(daemon, template, name), template
            assert "<no value>" not in shell, template
        for template in JSON:
            shell = json.loads(_shell_inspect(daemon, template, name))
            assert _set(shell) == _set(json.loads(_docker_inspect(daemon, template, name))), template
            assert shell, template
        assert _shell_inspect(daemon, "{{.HostConfig.Sysctls}}", name) == "map[kernel.shmmax:12345678 net.ipv4.ip_forward:1]"
        assert _shell_inspect(daemon, "{{.HostConfig.CpuShares}} {{.HostConfig.IpcMode}}", name) == "512 shareable"
        # the whole document: the shell's {{json .}} (and --format json) is what pouchd answers
        answer = _pouchd_answer(daemon, name)
        assert json.loads(_shell_inspect(daemon, "{{json .}}", name)) == answer
        assert json.loads(_shell_inspect(daemon, "json", name)) == answer
        assert answer["HostConfig"]["Devices"] == [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}]
        assert answer["Config"]["Healthcheck"]["Interval"] == 200_000_000
    finally:
        daemon.docker("rm", "-f", name)


def test_the_shell_record_keeps_the_create_options(daemon: Daemon) -> None:
    done = daemon.pouchsh("--json", "-c", "create --name opts --sysctl net.ipv4.ip_forward=1 --cpu-shares 300 busybox true; "
                                          "inspect opts | get create_options")
    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout.splitlines()[-1])
    try:
        assert options["sysctls"] == {"net.ipv4.ip_forward": "1"} and options["cpu_shares"] == 300
        # a pid-host container: the mode the options keep, in both faces
        made = daemon.pouchsh("-c", "create --name pidh --pid host busybox true")
        assert made.returncode == 0, made.stderr
        assert _shell_inspect(daemon, "{{.HostConfig.PidMode}}", "pidh") == "host" == _docker_inspect(
            daemon, "{{.HostConfig.PidMode}}", "pidh")
    finally:
        daemon.docker("rm", "-f", "opts", "pidh")


def test_a_container_without_create_options_still_inspects(daemon: Daemon) -> None:
    # an older pouchsh's container (no options file): docker's fields from the spec, the rest absent
    done = daemon.pouchsh("-c", "create --name old busybox true")
    assert done.returncode == 0, done.stderr
    try:
        cid = _pouchd_answer(daemon, "old")["Id"]
        options = next(daemon.root.glob(f"containers/*/{cid}/create-options.json"))
        options.unlink()
        assert _shell_inspect(daemon, "{{.State.Status}} {{.HostConfig.Sysctls}}", "old") == "created <no value>"
        assert _docker_inspect(daemon, "{{.State.Status}}", "old") == "created"
        assert json.loads(_shell_inspect(daemon, "{{json .}}", "old")) == _pouchd_answer(daemon, "old")
    finally:
        daemon.docker("rm", "-f", "old")
