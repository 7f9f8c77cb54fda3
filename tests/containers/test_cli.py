"""The container commands through ``pouchsh -c`` in a subprocess, against the test containerd."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.terminal import in_terminal

pytestmark = pytest.mark.containerd


def test_run_exit_status_output_and_logs(pouchsh: Any) -> None:
    result = pouchsh("run --name job busybox sh -c 'echo out; echo err >&2; exit 3'")
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"out\n" and result.stderr == b"err\n"
    result = pouchsh("logs job")
    assert sorted(result.stdout.decode().split()) == ["err", "out"]
    assert pouchsh("run busybox true; echo $status").stdout == b"0\n"


def test_detached_run_returns_the_record_and_ps_finds_it(pouchsh: Any) -> None:
    result = pouchsh("run -d --name web busybox sleep 60 | get name", extra=["--json"])
    assert json.loads(result.stdout) == "web", result.stderr
    ps = pouchsh("ps | select name status", extra=["--json"])
    assert json.loads(ps.stdout) == [{"name": "web", "status": "running"}]
    assert pouchsh("container ls -q").stdout.decode().strip() == json.loads(pouchsh("ps -q", extra=["--json"]).stdout)[0]
    assert pouchsh("rm -f web").returncode == 0


def test_pipeline_removes_exited_containers(pouchsh: Any) -> None:
    script = """
    run --name a busybox true
    run --name b busybox false
    run -d --name keep busybox sleep 60
    ps -a | where status == exited | rm
    ps -a | get name
    """
    result = pouchsh(script, extra=["--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == ["keep"]
    assert pouchsh("rm -f keep").returncode == 0


def test_errors_have_kinds_and_exit_codes(pouchsh: Any) -> None:
    result = pouchsh("rm nosuch")
    assert result.returncode == 1 and b"error[not-found]" in result.stderr
    # run and create that fail before the container's command runs exit 125, as docker's
    result = pouchsh("run --name 'bad name' busybox true")
    assert result.returncode == 125 and b"error[invalid-argument]" in result.stderr
    result = pouchsh("run --restart on-failure busybox true")
    assert result.returncode == 125 and b"containerd 1.6" in result.stderr
    result = pouchsh("run --memory lots busybox true")
    assert result.returncode == 2 and b"error[check]" in result.stderr
    assert pouchsh("create --name dup busybox true").returncode == 0
    result = pouchsh("create --name dup busybox true")
    assert result.returncode == 125 and b"error[already-exists]" in result.stderr
    assert pouchsh("ps -a -q --no-trunc | length", extra=["--json"]).stdout.strip() == b"1"


def test_stdin_is_forwarded_with_i(pouchsh: Any) -> None:
    result = pouchsh("run -i --rm busybox wc -l", input=b"a\nb\nc\n")
    assert result.returncode == 0 and result.stdout.strip() == b"3"


def test_exec_and_inspect(pouchsh: Any) -> None:
    assert pouchsh("run -d --name box -e GREETING=hi busybox sleep 60").returncode == 0
    result = pouchsh("exec -e X=1 box sh -c 'echo $GREETING $X; exit 2'")
    assert result.returncode == 2 and result.stdout == b"hi 1\n"
    result = pouchsh("inspect box | get spec.process.args", extra=["--json"])
    assert json.loads(result.stdout) == ["sleep", "60"]
    assert pouchsh("stop -t 0 box; wait box", extra=["--json"]).stdout.strip().endswith(b"137")
    assert pouchsh("rm box").returncode == 0


def test_name_race_between_two_processes(containerd_address: str, namespace: str, busybox_image: str, roots: Any,
                                        pouchsh: Any) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, POUCHSH_ROOT=str(roots[0]), POUCHSH_RUN=str(roots[1]))
    cmd = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace,
           "-c", "create --name racer busybox true"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outcomes = []
    for p in procs:
        _, err = p.communicate(timeout=60)
        outcomes.append("ok" if p.returncode == 0 else "exists" if b"already-exists" in err else err.decode())
    assert sorted(outcomes) == ["exists", "exists", "ok"]


def test_interactive_tty_run_with_pexpect(containerd_address: str, namespace: str, busybox_image: str, roots: Any) -> None:
    import os
    import sys

    import pexpect
    env = dict(os.environ, POUCHSH_ROOT=str(roots[0]), POUCHSH_RUN=str(roots[1]))
    argv = [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace,
            "-c", "run -it --rm busybox sh"]
    with in_terminal(argv, env=env, rows=30, columns=100) as child:
        child.expect_exact("# ")
        child.sendline("echo $((6*7)); [ -t 0 ] && echo tty-yes")
        child.expect_exact("42")
        child.expect_exact("tty-yes")
        child.sendline("exit 9")
        child.expect(pexpect.EOF)
        assert child.wait_exit() == 9


def test_ctrl_c_stops_the_foreground_container(containerd_address: str, namespace: str, busybox_image: str, roots: Any, pouchsh: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, POUCHSH_ROOT=str(roots[0]), POUCHSH_RUN=str(roots[1]))
    script = "run --name fg busybox sh -c \"trap 'echo got-term; exit 4' TERM; echo ready; while true; do sleep 0.1; done\""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pouchsh", "--address", containerd_address, "--namespace", namespace, "-c", script],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"got-term" in out and b"error[interrupted]" in err
    ps = pouchsh("ps -a | select name status exit_code", extra=["--json"])
    assert json.loads(ps.stdout) == [{"name": "fg", "status": "exited", "exit_code": 4}]


def test_logs_follow_and_tail(pouchsh: Any) -> None:
    assert pouchsh("run -d --name f busybox sh -c 'echo one; echo two; sleep 1; echo three'").returncode == 0
    result = pouchsh("logs -f f")
    assert result.returncode == 0 and result.stdout == b"one\ntwo\nthree\n"
    assert pouchsh("logs -n 1 f").stdout == b"three\n"
    assert pouchsh("logs --since 1h f | lines | length", extra=["--json"]).stdout.strip() == b"3"


def test_init_needs_an_init_binary_or_says_so(pouchsh: Any) -> None:
    import shutil

    result = pouchsh("run --init --rm busybox true")
    if any(shutil.which(n) for n in ("docker-init", "tini", "tini-static", "catatonit")):
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 125 and b"--init: no init binary" in result.stderr


def test_cp_tar_streams(pouchsh: Any, tmp_path: Any) -> None:
    import io
    import tarfile

    assert pouchsh("run -d --name box busybox sleep 60").returncode == 0
    out = pouchsh("cp box:/etc -")
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        assert "etc/passwd" in tar.getnames()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("streamed.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert pouchsh("cp - box:/tmp", input=buf.getvalue()).returncode == 0
    assert pouchsh("exec box cat /tmp/streamed.txt").stdout == b"abc"
    bad = pouchsh("cp - box:/tmp", input=b"not a tar at all" * 64)
    assert bad.returncode == 1 and b"error[invalid-argument]" in bad.stderr
