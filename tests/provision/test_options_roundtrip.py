"""``upgrade`` rebuilds a container from the create options it kept: every kind of option survives the trip."""

from __future__ import annotations

from managers.options import CreateOptions


def test_create_options_survive_to_json_and_back() -> None:
    opts = CreateOptions.parse(
        "busybox", ["sleep", "1"], environ={}, cwd="/", env=["A=1"], ulimit=["nofile=1024:2048"],
        device=["/dev/zero:/dev/myzero:r"], security_opt=["no-new-privileges", "seccomp=unconfined"],
        health_cmd="true", health_interval="5s",
    )
    again = CreateOptions.from_json(opts.to_json())
    assert again == opts
    assert again.devices[0].path == "/dev/myzero" and again.security.no_new_privileges
