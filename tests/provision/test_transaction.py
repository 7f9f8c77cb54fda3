"""``transaction { … }`` against the real containerd: a failing block leaves the world as it found it
(what it made removed newest first, connections it made undone, what existed before untouched), a
passing one keeps everything; nesting, ``try`` inside, ``--dry-run``'s undo plan."""

from __future__ import annotations

import json
import os

import pytest

from ctrd.errors import PouchError

pytestmark = pytest.mark.containerd


def names(shell) -> set[str]:
    return set(json.loads(shell.run("ps -a | get name | to json")))


def networks(shell) -> set[str]:
    return set(json.loads(shell.run("network ls | get name | to json")))


def volumes(shell) -> set[str]:
    return set(json.loads(shell.run("volume ls | get name | to json")))


def intents(shell) -> list[str]:
    path = shell.facade.root / "intents"
    return sorted(os.listdir(path)) if path.is_dir() else []


def test_a_block_that_passes_keeps_what_it_made(shell) -> None:
    shell.run("transaction {\n network create txok\n volume create txvol\n run -d --name a --network txok "
              "-v txvol:/data busybox sleep 300\n}")
    assert "a" in names(shell) and "txok" in networks(shell) and "txvol" in volumes(shell)
    assert intents(shell) == []
    # a later transaction's failure does not take what an earlier one committed
    assert shell.kind("transaction { run -d --name b busybox sleep 300; rm nosuch }") == "not-found"
    assert names(shell) == {"a"} and "txok" in networks(shell)


def test_a_failure_undoes_everything_the_block_made_and_nothing_else(shell) -> None:
    shell.run("network create before; volume create keep; run -d --name old busybox sleep 300")
    source = ("transaction {\n"
              "  network create txnet\n"
              "  volume create txvol\n"
              "  run -d --name web --network txnet -v txvol:/data -v anon:/anon busybox sleep 300\n"
              "  network connect txnet old\n"
              "  network connect before web\n"
              "  run -d --name db busybox sleep 300\n"
              "  run -d --name broken --pull never no-such-image:1 true\n"
              "  run -d --name never busybox true\n"
              "}")
    with pytest.raises(PouchError) as caught:
        shell.session.execute(shell.session.compile(source, "tx.pouch"))
    err = caught.value
    assert err.kind == "not-found" and "no-such-image" in err.message
    assert err.span is not None and err.span.line == 8  # the statement that failed, not the block
    assert names(shell) == {"old"}
    assert "txnet" not in networks(shell) and "before" in networks(shell)
    assert volumes(shell) == {"keep"}  # txvol, and `anon` which run made, are gone
    assert json.loads(shell.run("inspect old | get networks | to json")) == ["bridge"]
    assert json.loads(shell.run("inspect old | get status | to json")) == "running"
    assert intents(shell) == []


def test_a_connection_that_existed_before_is_not_undone(shell) -> None:
    shell.run("network create shared; run -d --name old --network shared busybox sleep 300")
    assert shell.kind("transaction { network connect shared old }") == "already-exists"
    assert json.loads(shell.run("inspect old | get networks | to json")) == ["shared"]


def test_nested_transactions_and_try_inside(shell) -> None:
    shell.run("""transaction {
      run -d --name outer busybox sleep 300
      try {
        transaction { run -d --name inner busybox sleep 300; rm nosuch }
      } catch err { echo caught $err.kind }
      try { rm alsonosuch }
      transaction { run -d --name kept busybox sleep 300 }
    }""")
    assert names(shell) == {"outer", "kept"}
    # an inner transaction that committed is undone with the outer one that fails
    assert shell.kind("transaction { transaction { run -d --name in2 busybox sleep 300 }; rm nosuch }") == "not-found"
    assert names(shell) == {"outer", "kept"}
    assert intents(shell) == []


def test_return_and_break_leave_the_block_and_keep_what_it_made(shell) -> None:
    shell.run("def mk [] { transaction { run -d --name r1 busybox sleep 300; return 1 } }\nmk\n"
              "for i in 1..3 { transaction { run -d --name \"b$i\" busybox sleep 300; break } }")
    assert names(shell) == {"r1", "b1"}
    assert intents(shell) == []


def test_dry_run_prints_the_undo_plan(cli) -> None:
    proc = cli("--dry-run", "-c", "transaction { network create n; run -d --name a --network n busybox sleep 9 }")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "transaction begins" and lines[-1] == "transaction commits"
    assert lines[-3:-1] == ["  on failure, undo: containers.remove(['a'], force=True, volumes=True)",
                            "  on failure, undo: networks.remove(['n'])"]


def test_a_transaction_that_makes_nothing_writes_nothing(shell) -> None:
    assert shell.kind("transaction { echo nothing; rm nosuch }") == "not-found"
    assert intents(shell) == []


def test_the_default_network_made_inside_a_transaction_is_not_its_own(shell) -> None:
    assert "bridge" not in shell.facade.networks.store.read().get("networks", {})  # a fresh data root
    assert shell.kind("transaction { run -d --name a busybox sleep 300; rm nosuch }") == "not-found"
    assert names(shell) == set()
    assert "bridge" in shell.facade.networks.store.read().get("networks", {})
