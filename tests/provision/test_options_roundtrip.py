"""``upgrade`` rebuilds a container from the create options it kept: every kind of option survives the trip."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from managers.dataclassjson import from_plain
from managers.health import HealthOptions
from managers.options import CreateOptions, Ulimit
from managers.runflags import Device, Security


def test_create_options_survive_to_json_and_back() -> None:
    opts = CreateOptions.parse(
        "busybox", ["sleep", "1"], environ={}, cwd="/", env=["A=1"], ulimit=["nofile=1024:2048"],
        device=["/dev/zero:/dev/myzero:r"], security_opt=["no-new-privileges", "seccomp=unconfined"],
        health_cmd="true", health_interval="5s",
    )
    again = CreateOptions.from_json(opts.to_json())
    assert again == opts
    assert again.devices[0].path == "/dev/myzero" and again.security.no_new_privileges


def _full() -> CreateOptions:
    return CreateOptions(
        image="busybox", args=["sleep", "1"], name="web", interactive=True, tty=True, rm=True, env=["A=1"],
        labels={"a": "b"}, workdir="/w", user="1:2", entrypoint=["/bin/sh", "-c"], hostname="h",
        restart="always", stop_signal="SIGINT", stop_timeout=7, read_only=True, privileged=True,
        cap_add=["NET_ADMIN"], cap_drop=["CHOWN"], memory=64 << 20, cpus=0.5, pids_limit=100,
        ulimits=[Ulimit("RLIMIT_NOFILE", 1024, 2048), Ulimit("RLIMIT_NPROC", 10, 20)], shm_size=1 << 20,
        init_path="/usr/bin/tini", runtime="io.containerd.runc.v1", runtime_binary="/usr/bin/crun",
        pull="always", log_max_size=4096, log_max_file=3, annotations={"x": "y"}, volumes=["v:/v"],
        mounts=["type=tmpfs,dst=/m"], tmpfs=["/t"], volumes_from=["other"], publish=["80:80"],
        publish_all=True, network="none", ip="10.0.0.2", dns=["1.1.1.1"], add_host=["h:1.2.3.4"],
        devices=[Device("/dev/zero", "/dev/z", "c", 1, 5, 0o666, 1, 2, "r")],
        security=Security(no_new_privileges=True, seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []},
                          apparmor="unconfined"),
        sysctls={"net.ipv4.ip_forward": "1"}, pid_mode="host", ipc_mode="shareable", cpuset_cpus="0",
        cpu_shares=512, group_add=["10"], oom_score_adj=100, memory_swap=-1, memory_reservation=32 << 20,
        health=HealthOptions(test=("CMD", "true"), interval=1, timeout=2, retries=3, start_period=4, disable=True,
                             start_interval=5),
        enable_lxcfs=True, console_size=[24, 80],
    )


def _defaults_left(value: Any, where: str) -> list[str]:
    """Fields of ``value`` (and of the dataclasses within) that still hold their default."""
    left = []
    for f in dataclasses.fields(value):
        got = getattr(value, f.name)
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = f.default
        if got == default:
            left.append(f"{where}.{f.name}")
        for item in got if isinstance(got, list) else [got]:
            if dataclasses.is_dataclass(item):
                left += _defaults_left(item, f"{where}.{f.name}")
    return left


def test_every_create_option_survives_the_trip() -> None:
    """A field added to CreateOptions (or to an option class within) must be set here, so it is carried."""
    opts = _full()
    assert _defaults_left(opts, "CreateOptions") == []
    again = CreateOptions.from_json(opts.to_json())
    assert again == opts
    assert isinstance(again.health, HealthOptions) and again.health.test == ("CMD", "true")
    assert [type(u) for u in again.ulimits] == [Ulimit, Ulimit] and isinstance(again.devices[0], Device)


def test_keys_of_another_version_are_left_out_and_missing_ones_take_defaults() -> None:
    data = json.loads(_full().to_json())
    data["from_a_newer_pouchsh"] = 1
    del data["enable_lxcfs"]
    data["security"].pop("apparmor")
    again = from_plain(CreateOptions, data)
    assert not again.enable_lxcfs and again.security.apparmor is None and again.security.no_new_privileges


def test_a_value_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(TypeError):
        from_plain(CreateOptions, {"image": "busybox", "security": ["not", "an", "object"]})
