"""Every example script runs under ``--dry-run`` (no containerd: each manager call is printed and returns a
typed placeholder, pouchsh.dryrun) and exits 0, as it does for real (tests/examples).

A dry run cannot know what a container prints or how many run: an example skips its own checks of such
results when ``$pouch.dry_run`` is true, so the dry run still prints every call the script would make.
No example is left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lang.conftest import run_cli

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "scripts" / "examples").glob("*.pouch"))
ARGUMENTS = {"registry-roundtrip.pouch": ["127.0.0.1:5000"]}


def test_the_arguments_name_only_examples_that_exist() -> None:
    assert set(ARGUMENTS) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_dry_runs(example: Path) -> None:
    result = run_cli(["--dry-run", str(example), *ARGUMENTS.get(example.name, [])])
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert result.code == 0, result.out + result.err
    assert result.err == "", result.err
    assert result.out.count("(") > 0, "a dry run prints the calls it would make"


def test_a_checked_example_would_fail_its_check_without_pouch_dry_run(tmp_path: Path) -> None:
    """The guard matters: the same check without ``$pouch.dry_run`` sees the placeholders and fails."""
    example = next(p for p in EXAMPLES if p.name == "par-each-batch.pouch")
    unguarded = tmp_path / example.name
    unguarded.write_text(example.read_text().replace("not $pouch.dry_run and ", ""))
    assert unguarded.read_text() != example.read_text()
    result = run_cli(["--dry-run", str(unguarded)])
    assert result.code == 1 and "0 of 6 running" in result.out
