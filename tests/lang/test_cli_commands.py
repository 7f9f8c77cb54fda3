"""``pouchsh COMMAND ARGS...``: a first argument that names a command runs it, as ``docker COMMAND``.

The words are the shell's own argv, each taken as one plain word: nothing in them is read as pouch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.lang.conftest import run_cli


def test_a_command_name_runs_the_command() -> None:
    result = run_cli(["echo", "hello world"])
    assert (result.code, result.out, result.err) == (0, "hello world\n", "")
    assert run_cli(["--json", "echo", "a", "b"]).out == '["a","b"]\n'


def test_the_words_reach_the_call_unparsed() -> None:
    hostile = ['$HOME', '$(exit 9)', 'a; exit 3', '"quoted"', "{a: 1}", "x\ny", "#not a comment", "[1 2]", "\\"]
    result = run_cli(["--json", "echo", *hostile])
    assert result.code == 0, result.err
    assert json.loads(result.out) == hostile


def test_flags_and_typed_values_bind_as_in_a_script() -> None:
    result = run_cli(["--dry-run", "run", "-d", "--name=web", "-m", "512MiB", "-e", "A=$B", "busybox", "sh", "-c",
                      "echo $A; exit 3"])
    assert result.code == 0, result.err
    assert result.out == (
        "containers.run(CreateOptions(image='busybox', args=['sh', '-c', 'echo $A; exit 3'], name='web', "
        "env=['A=$B'], memory=536870912), detach=True)\n"
        "<containers.run.id>\n"  # run -d prints the id, as docker does (here the dry run's placeholder)
    )
    assert run_cli(["--dry-run", "container", "ls", "-a"]).out.startswith("containers.list(all=True, ")


def test_a_bad_flag_is_a_check_error_shown_on_the_words() -> None:
    result = run_cli(["run", "--bogus", "busy box"])
    assert result.code == 2
    assert result.err.startswith(
        "error[check]: `run`: unknown flag `--bogus`\n --> <command>:1:5\n  |\n1 | run --bogus \"busy box\"\n"
        "  |     ^^^^^^^\n"
    )


def test_control_characters_are_not_shown_raw() -> None:
    result = run_cli(["rm", "--bogus\x1b[2J"])
    excerpt = result.err.splitlines()[3]
    assert result.code == 2 and excerpt == '1 | rm "--bogus\\x1b[2J"'


def test_a_word_that_is_not_utf8_is_refused() -> None:
    bad = os.fsdecode(b"caf\xe9")
    result = run_cli(["echo", bad])
    assert result.code == 2 and "is not UTF-8" in result.err and result.out == ""


def test_a_script_named_like_a_command_runs_by_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "echo").write_text("echo from-the-script\n")
    # the bare name is the command, whatever the directory holds; a path is the file
    assert run_cli(["echo", "from-the-command"]).out == "from-the-command\n"
    assert run_cli(["./echo"]).out == "from-the-script\n"
    assert run_cli([str(tmp_path / "echo")]).out == "from-the-script\n"


def test_a_name_that_is_no_command_is_still_a_script_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deploy").write_text('echo "deployed $args.0"\n')
    assert run_cli(["deploy", "prod"]).out == "deployed prod\n"
    result = run_cli(["nosuch-thing"])
    assert result.code == 2 and "cannot read nosuch-thing" in result.err


def test_help_says_how_commands_and_like_named_scripts_run() -> None:
    text = run_cli(["--help"]).out
    assert "pouchsh [OPTIONS] COMMAND [ARGS...]" in text and "pouchsh ./run" in text
    result = run_cli(["run", "--help"])
    assert result.code == 0 and "--detach" in result.out
