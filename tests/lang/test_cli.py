"""The command line: options, script sources, exit codes, output modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.lang.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def test_file_with_shebang_and_args(tmp_path: Path) -> None:
    script = tmp_path / "s.pouch"
    script.write_text("#!/usr/bin/env pouchsh\necho ($args | length) $args.1\n")
    result = run_cli([str(script), "a", "b"])
    assert (result.code, result.out, result.err) == (0, "2\nb\n", "")


def test_stdin_script_and_dash() -> None:
    assert run_cli([], stdin="echo piped").out == "piped\n"
    assert run_cli(["-", "x"], stdin="echo $args.0").out == "x\n"


def test_check_runs_nothing() -> None:
    result = run_cli(["--check", "-c", "echo hi; ^false"])
    assert (result.code, result.out, result.err) == (0, "", "")


def test_every_prune_takes_dockers_force_flag() -> None:
    for kind in ("container", "image", "volume", "network", "system"):
        result = run_cli(["--check", "-c", f"{kind} prune -f; {kind} prune --force"])
        assert (result.code, result.err) == (0, ""), kind


def test_check_reports_every_error_with_exit_2() -> None:
    result = run_cli(["--check", "-c", "rnu\necho $nope"])
    assert result.code == 2
    assert result.err.count("error[check]") == 2


def test_json_output_is_one_document_per_line() -> None:
    result = run_cli(["--json", "-c", "{a: 1}\n[1 2]\n64MiB"])
    assert [json.loads(line) for line in result.out.splitlines()] == [{"a": 1}, [1, 2], 64 << 20]


def test_exit_codes() -> None:
    assert run_cli(["-c", "exit 7"]).code == 7
    assert run_cli(["-c", "echo (1 / 0)"]).code == 1
    assert run_cli(["-c", "echo ("]).code == 2
    assert run_cli(["--bogus"]).code == 2
    assert run_cli(["-c"]).code == 2
    assert run_cli(["missing-file.pouch"]).code == 2


def test_help_and_version() -> None:
    assert "usage: pouchsh" in run_cli(["--help"]).out
    assert run_cli(["--version"]).out.startswith("pouchsh ")


def test_command_help_flag_prints_help_instead_of_running() -> None:
    result = run_cli(["-c", "sleep --help"])
    assert result.code == 0 and result.out.startswith("sleep - ")
    result = run_cli(["-c", "run --help"])
    assert result.code == 0 and "--detach" in result.out


def test_dry_run_prints_manager_calls_in_order() -> None:
    result = run_cli(["--dry-run", "-c", "let c = run -d --name web busybox sleep 9\nrm $c.id"])
    assert result.err == ""
    assert result.out.splitlines() == [
        "containers.run(CreateOptions(image='busybox', args=['sleep', '9'], name='web'), detach=True)",
        "containers.remove(['<containers.run.id>'], force=False, volumes=False)",
        "<containers.run.id>",  # rm prints the names it was given, as docker does
    ]


def test_dry_run_works_for_every_declared_command() -> None:
    from pouchsh.commands import load

    for cmd in load().commands():
        required = [p for p in cmd.params if p.required]
        args = " ".join("x" if p.type not in ("int", "closure", "duration", "size") else
                        ("{|v| $v }" if p.type == "closure" else "1") for p in required)
        result = run_cli(["--dry-run", "-c", f"{cmd.name} {args}"])
        assert result.code in (0, 1, 125), (cmd.name, result.err)  # 125: a container command, as docker
        assert "internal error" not in result.err and "Traceback" not in result.err, (cmd.name, result.err)


def test_runtime_error_stops_the_script() -> None:
    result = run_cli(["-c", "echo a\necho (1 / 0)\necho b"])
    assert result.out == "a\n"
    assert result.err.startswith("error[invalid-argument]: division by zero\n --> <command>:2:9\n")


def test_no_traceback_for_a_broken_program_and_interrupt() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pouchsh", "-c", "echo ("], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = subprocess.Popen([sys.executable, "-m", "pouchsh", "-c", "echo start; sleep 30s"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "start\n"
    proc.send_signal(2)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.startswith("error[interrupted]") and "Traceback" not in err


def test_status_is_the_exit_code_of_the_last_statement(monkeypatch) -> None:
    from pouchsh.signature import COMMANDS, CommandTable, command

    table = CommandTable()

    @command("fake-run", help="sets $status", params=[], table=table)
    def fake_run(ctx):
        ctx.set_status(5)

    monkeypatch.setattr(COMMANDS, "_by_name", {**COMMANDS._by_name, "fake-run": table.get("fake-run")})
    assert run_cli(["-c", "fake-run"]).code == 5
    assert run_cli(["-c", "fake-run; echo $status"]).out == "5\n"
    assert run_cli(["-c", "fake-run; echo after"]).code == 0


def test_a_closed_pipe_ends_quietly() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pouchsh", "-c", "for i in 1..100000 { print $i }"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"1\n"
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert err == b""
