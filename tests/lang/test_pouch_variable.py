"""``$pouch``: the built-in record a script reads facts about its own run from (``$pouch.dry_run``), so an
example can skip checks of what containers printed, which a dry run cannot know."""

from __future__ import annotations

from tests.lang.conftest import run_cli


def test_dry_run_is_false_for_a_real_run_and_true_under_dry_run() -> None:
    assert run_cli(["-c", "echo $pouch.dry_run"]).out == "false\n"
    assert run_cli(["--dry-run", "-c", "echo $pouch.dry_run"]).out == "true\n"
    assert run_cli(["-c", "echo $pouch.version"]).out.strip()


def test_a_guarded_check_is_skipped_only_under_dry_run() -> None:
    source = "let n = (ps | length)\nif not $pouch.dry_run and $n != 99 { echo checked; exit 1 }\necho done"
    dry = run_cli(["--dry-run", "-c", source])
    assert dry.code == 0 and dry.out.splitlines()[-1] == "done" and "containers.list(" in dry.out


def test_pouch_cannot_be_declared_or_assigned() -> None:
    for source in ("let pouch = 1", "$pouch = {dry_run: false}", "let status = 0", "let env = {}",
                   "for status in [1 2] { echo $status }", "[1] | each {|args| $args }", "def f [pouch] { 1 }",
                   "try { 1 } catch env { 2 }"):
        result = run_cli(["--check", "-c", source])
        assert result.code == 2 and "error[check]" in result.err, (source, result.err)


def test_help_lists_the_built_in_variables() -> None:
    out = run_cli(["-c", "help"]).out
    assert "$pouch.dry_run" in out and "$status" in out and "$args" in out
