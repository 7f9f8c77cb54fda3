"""Every example of LANGUAGE.md (version 1), held here as written there.

Those that use no container command run as written (against no containerd); the rest pass ``--check``
and run under ``--dry-run``, where the manager calls are printed instead of made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lang.conftest import run_cli

#: LANGUAGE.md §3, the statement examples, in one script (it ends with `exit 3` before `source`).
STATEMENTS = """\
let web = run -d --name web busybox httpd -f -p 80      # bind a command's result
let n = 3                                             # bind an expression
$n = $n + 1                                           # reassign an existing variable
if $n > 2 { echo "many" } else if $n == 2 { echo two } else { echo few }
for i in 1..$n { run -d --name "w$i" busybox sleep 300 }
while (ps | where name == "job" | length) > 0 { sleep 1s }
def up [name, --image: string = "busybox", --count: int = 1] {
    for i in 1..$count { run -d --name "$name-$i" $image sleep 600 }
}
up api --count 2
try { rm web } catch err { echo "could not remove: $err.message" }
exit 3
source common.pouch
"""

#: Examples that need no containerd, with what they print (stdout is not a terminal here).
PURE = [
    ("let n = 3\n$n = $n + 1\necho $n", "4\n"),
    ('let n = 3\nif $n > 2 { echo "many" } else if $n == 2 { echo two } else { echo few }', "many\n"),
    ('let n = 2\nif $n > 2 { echo "many" } else if $n == 2 { echo two } else { echo few }', "two\n"),
    ("let s = \"ps\"\necho $s", "ps\n"),
    ("echo busybox -- -d --name=web 8080:80 127.0.0.1:5000/app:1.0 /data/x a=b",
     "busybox\n-d\n--name=web\n8080:80\n127.0.0.1:5000/app:1.0\n/data/x\na=b\n"),
    ("echo a#b # a comment", "a#b\n"),
    ('echo "tab\\there" \'literal $x\'', "tab\there\nliteral $x\n"),
    ("echo 42 -3 2.5 true false", "42\n-3\n2.5\ntrue\nfalse\n"),
    ("echo 64MiB 1GB 512k 500ms 10s 2m 1h", "64 MiB\n953.7 MiB\n512 KiB\n500ms\n10s\n2m\n1h\n"),
    ("let x = {name: web, port: 80}\necho $x.name $x.port $x.missing?", "web\n80\n\n"),
    ("let l = [a, b]\nlet m = [a b]\necho ($l == $m) $l.0", "true\na\n"),
    ("echo 1..3", "1\n2\n3\n"),
    ("[{id: a} {id: b}] | each {|c| $c.id }", "a\nb\n"),
    ("[{name: web} {name: db}] | each { $it.name }", "web\ndb\n"),
    ("let n = 2\necho (1 + 2 * 3) ($n == 2) ($n != 2) ($n < 3) ($n <= 2) ($n > 1) ($n >= 2)",
     "7\ntrue\nfalse\ntrue\ntrue\ntrue\ntrue\n"),
    ('echo ("web" =~ "^w") ("web" !~ "^w") (7 mod 2) (not false) (true and false) (true or false) (2 in [1 2])',
     "true\nfalse\n1\ntrue\nfalse\ntrue\ntrue\n"),
    ("try { ^false } catch err { echo \"could not remove: $err.message\" }",
     "could not remove: false exited with status 1\n"),
    ("echo ($args | length) $status", "0\n0\n"),
    ("[3 1 2] | sort-by | first", "1\n"),
    ("[a b a] | uniq | length", "2\n"),
    ('"a\\nb" | lines | reverse | to json', '["b","a"]\n'),
]

#: Examples with container commands: they must pass --check and --dry-run.
CONTAINER = [
    "let web = run -d --name web busybox httpd -f -p 80",
    "let c = ps",
    "run --name for busybox",
    'while (ps | where name == "job" | length) > 0 { sleep 1s }',
    "for i in 1..3 { run -d --name \"w$i\" busybox sleep 300 }",
    "each {|c| rm $c.id }",
    "ps -a | where status == exited | rm",
    "images | where size > 100MiB | rmi",
    "ps | where {|c| $c.status == running } | select id name | sort-by name --reverse | first 2",
    "ps -a | par-each --jobs 4 {|c| inspect $c.id } | length",
    "container ls",
    "images; pull busybox; push localhost:5000/busybox; tag busybox mine; history busybox; image inspect busybox",
    "image prune",
    "volume create data; volume ls; volume inspect data; volume rm data; volume prune",
    "network create n1; network ls; network inspect n1; network connect n1 web; network disconnect n1 web",
    "network rm n1; network prune",
    "info; version; system df; system prune",
    "namespace ls; namespace create t1; namespace use t1; namespace rm t1",
    "create busybox; start web; stop web; restart web; kill web; pause web; unpause web",
    "inspect web; logs web; exec web ls; wait web; rename web web2; top web; port web",
    "update --memory 64m web; container prune; cp web:/etc/hosts /tmp/x",
    "help run; run --help",
    "ps | where status == running | get name | to json",
    "ps -a | to yaml; ps | to csv",
]


def test_statements_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common.pouch").write_text("let shared = 1\n")
    (tmp_path / "s.pouch").write_text(STATEMENTS)
    result = run_cli(["--check", "s.pouch"])
    assert (result.code, result.err) == (0, "")


def test_statements_dry_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common.pouch").write_text("let shared = 1\n")
    (tmp_path / "s.pouch").write_text(STATEMENTS)
    result = run_cli(["--dry-run", "s.pouch"])
    assert result.err == ""
    assert result.code == 3  # `exit 3`
    lines = result.out.splitlines()
    assert lines[0].startswith("containers.run(") and "name='web'" in lines[0]
    assert "many" in lines
    assert sum(1 for line in lines if line.startswith("containers.run(")) == 1 + 4 + 2
    assert any("name='api-2'" in line for line in lines)
    assert any(line.startswith("containers.remove(") for line in lines)


@pytest.mark.parametrize(("source", "output"), PURE, ids=[s for s, _ in PURE])
def test_pure_example_runs(source: str, output: str) -> None:
    result = run_cli(["-c", source])
    assert (result.code, result.err, result.out) == (0, "", output)


@pytest.mark.parametrize("source", CONTAINER)
def test_container_example_checks_and_dry_runs(source: str) -> None:
    checked = run_cli(["--check", "-c", source])
    assert (checked.code, checked.err, checked.out) == (0, "", "")
    dry = run_cli(["--dry-run", "-c", source])
    assert dry.err == "" and dry.code == 0
