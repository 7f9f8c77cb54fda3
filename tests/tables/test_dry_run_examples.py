"""Every example script runs under ``--dry-run`` (no containerd: each manager call is printed and returns a
typed placeholder, pouchsh.dryrun), so a script that reads fields of what ``run`` returned goes on.

A dry run cannot know what a container prints or how many run: the examples whose own checks compare
such results (``CHECKS_REAL_RESULTS``) reach those checks and stop there with the check's exit status 1
and its own message; none of them may fail with a language error, and every other example exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lang.conftest import run_cli

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "scripts" / "examples").glob("*.pouch"))
ARGUMENTS = {"registry-roundtrip.pouch": ["127.0.0.1:5000"]}

#: example → the message its own check prints when it sees a dry run's placeholders
CHECKS_REAL_RESULTS = {
    "docker-ported.pouch": "ported-web never became ready",
    "inventory-report.pouch": "round trip failed",
    "logs-and-exec.pouch": "the container never became ready",
    "par-each-batch.pouch": "of 6 running",
    "snapshot-and-commit.pouch": "the container never wrote /srv/stamp",
    "parametrised.pouch": "",
    "two-tier-app.pouch": "",
    "volume-persistence.pouch": "unexpected content",
}

#: example → the error it stops at because a dry run runs no host command (it writes a file with ``^sh``)
NEEDS_HOST_COMMANDS = {"compose-ci-env.pouch": "compose.yaml: No such file or directory"}


def test_the_list_names_only_examples_that_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert set(CHECKS_REAL_RESULTS) | set(NEEDS_HOST_COMMANDS) | set(ARGUMENTS) <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_dry_runs(example: Path) -> None:
    result = run_cli(["--dry-run", str(example), *ARGUMENTS.get(example.name, [])])
    assert "internal error" not in result.err and "Traceback" not in result.err
    if example.name in NEEDS_HOST_COMMANDS:
        assert result.code == 1 and "host: " in result.out and NEEDS_HOST_COMMANDS[example.name] in result.err
        return
    assert result.out.count("(") > 0, "a dry run prints the calls it would make"
    if example.name not in CHECKS_REAL_RESULTS:
        assert result.code == 0, result.err
        return
    assert result.code == 1, result.err
    assert CHECKS_REAL_RESULTS[example.name] in result.out + result.err
    assert "error[check]" not in result.err and "error[parse]" not in result.err
