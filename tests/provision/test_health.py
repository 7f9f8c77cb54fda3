"""Healthchecks against the real containerd: flags and the image's HEALTHCHECK, probes run by the
waiter (no daemon), states in ps and inspect, and the faults: a failing check, one that hangs past its
timeout, one whose command is missing, a container that stops while waited on."""

from __future__ import annotations

import json

import pytest

from ctrd.errors import InvalidArgument, PouchRuntimeError
from managers.health import HealthConfig, HealthOptions, parse_duration
from managers.labels import LABEL, MAX_LABEL_BYTES

pytestmark = pytest.mark.containerd

S = 1_000_000_000


def _value(shell, text: str):
    out = shell.run(f"{text} | to json")
    return json.loads(out)


def test_durations_in_docker_and_compose_spelling() -> None:
    assert parse_duration("1m30s", "x") == 90 * S
    assert parse_duration("500ms", "x") == S // 2
    assert parse_duration("2", "x") == 2 * S
    assert parse_duration(3 * S, "x") == 3 * S
    for bad in ("", "1x", "s", "-1s", "10s garbage", True, "25h"):
        with pytest.raises(InvalidArgument):
            parse_duration(bad, "--health-interval")


def test_flags_are_laid_over_the_image_healthcheck_field_by_field() -> None:
    image = {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5 * S, "Retries": 7}
    mine = HealthOptions.parse(timeout="2s")
    config = HealthConfig.effective(mine, image)
    assert config == HealthConfig(test=("CMD-SHELL", "curl -f localhost"), interval=5 * S, timeout=2 * S, retries=7)
    assert HealthConfig.effective(HealthOptions.parse(disable=True), image) is None
    assert HealthConfig.effective(None, {"Test": ["NONE"]}) is None
    assert HealthConfig.effective(None, {"Test": "not a list"}) is None
    assert HealthConfig.effective(HealthOptions.parse(cmd=["CMD", "true"]), None).args() == ["true"]
    with pytest.raises(InvalidArgument):
        HealthOptions.parse(cmd="true", disable=True)
    with pytest.raises(InvalidArgument):
        HealthOptions.parse(cmd=["CMD"])
    with pytest.raises(InvalidArgument):
        HealthOptions.parse(cmd="true", retries=-1)


def test_a_passing_check_makes_the_container_healthy(shell) -> None:
    shell.run("run -d --name hc --health-cmd 'test -e /bin/sh' --health-interval 200ms busybox sleep 300")
    assert _value(shell, "ps | get 0.health") == "starting"
    assert "(health: starting)" in _value(shell, "ps | get 0.state")
    record = _value(shell, "wait --condition healthy --timeout 1m hc")
    assert record["health"] == "healthy"
    assert _value(shell, "ps --filter health=healthy -q | length") == 1
    assert "(healthy)" in _value(shell, "ps | get 0.state")
    state = _value(shell, "inspect hc | get health_state")
    assert state["status"] == "healthy" and state["log"][-1]["exit_code"] == 0
    assert _value(shell, "inspect hc | get healthcheck.test") == ["CMD-SHELL", "test -e /bin/sh"]


def test_a_failing_check_is_an_error_naming_the_container_and_its_output(shell) -> None:
    shell.run("run -d --name bad --health-cmd 'echo broken; exit 3' --health-interval 100ms --health-retries 2 "
              "busybox sleep 300")
    assert shell.kind("wait --condition healthy --timeout 1m bad") == "runtime"
    state = _value(shell, "inspect bad | get health_state")
    assert state["status"] == "unhealthy" and state["failing_streak"] == 2
    assert state["log"][-1]["exit_code"] == 3 and state["log"][-1]["output"].strip() == "broken"
    assert "(unhealthy)" in _value(shell, "ps | get 0.state")
    assert _value(shell, "ps --filter health=unhealthy | get name") == ["bad"]


def test_a_check_past_its_timeout_is_killed_and_counts_as_failed(shell) -> None:
    shell.run("run -d --name slow --health-cmd 'sleep 100' --health-timeout 300ms --health-retries 1 busybox sleep 300")
    assert shell.kind("wait --condition healthy --timeout 1m slow") == "runtime"
    last = _value(shell, "inspect slow | get health_state.log")[-1]
    assert last["exit_code"] == -1 and "exceeded timeout" in last["output"]
    # the probe process was killed: only the container's own process is left
    assert _value(shell, "top slow | length") == 1


def test_a_missing_check_command_is_recorded_as_a_failure(shell) -> None:
    shell.run("run -d --name nocmd --health-cmd 'x' --health-retries 1 busybox sleep 300")
    shell.run("run -d --name nocmd2 busybox sleep 300")
    # the exec form (a compose test list): no shell, so runc itself finds no such file
    cid = _value(shell, "inspect nocmd2 | get id")
    config = HealthConfig(test=("CMD", "/no/such/check"), interval=S // 10, retries=1)
    shell.facade.ctrd.containers.update(cid, labels={LABEL.HEALTHCHECK: config.label()})
    assert shell.kind("wait --condition healthy --timeout 1m nocmd2") == "runtime"
    last = _value(shell, "inspect nocmd2 | get health_state.log")[-1]
    assert last["exit_code"] == 127 and "/no/such/check" in last["output"]
    assert shell.kind("wait --condition healthy --timeout 1m nocmd") == "runtime"
    assert _value(shell, "inspect nocmd | get health_state.log")[-1]["exit_code"] == 127


def test_output_is_bounded_so_the_state_fits_a_label(shell) -> None:
    shell.run("run -d --name loud --health-cmd 'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 100000; exit 1' "
              "--health-interval 50ms --health-retries 4 busybox sleep 300")
    assert shell.kind("wait --condition healthy --timeout 1m loud") == "runtime"
    labels = _value(shell, "inspect loud | get all_labels")
    assert len(LABEL.HEALTH) + len(labels[LABEL.HEALTH].encode()) <= MAX_LABEL_BYTES
    assert all(len(entry["output"]) <= 1024 for entry in json.loads(labels[LABEL.HEALTH])["log"])


def test_waiting_on_a_container_that_stops_or_has_no_check(shell) -> None:
    shell.run("run -d --name plain busybox sleep 300")
    assert shell.kind("wait --condition healthy plain") == "invalid-argument"
    shell.run("run -d --name ends --health-cmd false --health-retries 1000 --health-interval 100ms busybox sleep 1")
    assert shell.kind("wait --condition healthy --timeout 2m ends") == "runtime"
    shell.run("run -d --name never --health-cmd false --health-retries 1000 --health-interval 100ms busybox sleep 300")
    assert shell.kind("wait --condition healthy --timeout 1s never") == "timeout"
    assert shell.kind("run -d --no-healthcheck --health-cmd true busybox true") == "invalid-argument"
    assert shell.kind("run -d --health-interval 1x --health-cmd true busybox true") in ("invalid-argument", "check")


def test_a_restart_makes_the_container_starting_again(shell) -> None:
    shell.run("run -d --name again --health-cmd true --health-interval 100ms busybox sleep 300")
    shell.run("wait --condition healthy --timeout 1m again")
    shell.run("restart -t 0 again")
    assert _value(shell, "ps | get 0.health") == "starting"
    assert _value(shell, "health check again | get status") == "healthy"


def test_the_image_healthcheck_applies_and_no_healthcheck_disables_it(shell, tmp_path) -> None:
    from ctrd.imports import import_oci_layout
    from tests.support.images import build_busybox_layout

    layout = build_busybox_layout(tmp_path / "hc", name="docker.io/library/withcheck:1", config={
        "Healthcheck": {"Test": ["CMD-SHELL", "exit 0"], "Interval": S // 5, "Retries": 2},
    })
    import_oci_layout(shell.facade.ctrd, layout)
    shell.run("run -d --name imagecheck withcheck:1 sleep 300")
    assert _value(shell, "inspect imagecheck | get healthcheck") == {
        "test": ["CMD-SHELL", "exit 0"], "interval": S // 5, "timeout": 30 * S, "retries": 2, "start_period": 0,
        "start_interval": 5 * S}
    assert _value(shell, "wait --condition healthy --timeout 1m imagecheck | get health") == "healthy"
    shell.run("run -d --name nocheck --no-healthcheck withcheck:1 sleep 300")
    assert _value(shell, "inspect nocheck | get healthcheck") is None
    assert _value(shell, "ps --filter name=nocheck | get 0.health") is None


@pytest.mark.parametrize("step", ["before the look", "at the exec"])
def test_a_container_that_stops_as_its_probe_begins_is_a_stop(shell, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """The task may end between the waiter's look at it and the probe: found by the probe's own look
    (not running) or by the exec containerd refuses. Either is the container stopping, not a conflict."""
    from managers import healthprobe

    shell.run("run -d --name brief --health-cmd false --health-retries 1000 busybox sleep 300")
    tasks = shell.facade.containers.client.tasks
    cid = shell.facade.containers.resolver.get_all(["brief"])[0].id

    def stop_the_task() -> None:
        tasks.kill(cid, "SIGKILL")
        tasks.wait(cid).result(30)

    if step == "before the look":
        real_probe = healthprobe._probe_once

        def probe_once(facade, c):
            stop_the_task()
            return real_probe(facade, c)

        monkeypatch.setattr(healthprobe, "_probe_once", probe_once)
    else:
        real_run = healthprobe._run_probe

        def run_probe(facade, c, pid, config):
            stop_the_task()
            return real_run(facade, c, pid, config)

        monkeypatch.setattr(healthprobe, "_run_probe", run_probe)
    with pytest.raises(PouchRuntimeError, match="brief stopped while waiting"):
        shell.facade.health.wait(["brief"], timeout=60)
