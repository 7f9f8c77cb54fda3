"""Listings, --format and what statements print, against the real containerd: docker's tables at the end
of a statement, records everywhere else, every declared --format example run for real, and a template
error found before anything runs."""

from __future__ import annotations

import json
import re

import pytest

from pouchsh.commands import load

pytestmark = pytest.mark.containerd

_FORMATTED = [
    example.source
    for cmd in load().commands()
    if any(f.type == "template" for f in cmd.flags)
    for example in cmd.examples
    if "--format" in example.source or " -f '" in example.source
]


@pytest.fixture
def world(shell):  # type: ignore[no-untyped-def]
    """A running web (a published port, a label, a volume), a volume data and a network shop."""
    shell.run("volume create --label app=shop data")
    shell.run("network create shop")
    shell.run("run -d --name web -p 8080:80 --label tier=db -v data:/data busybox sleep 300")
    yield shell
    shell.run("rm -f web")


def test_every_format_example_in_the_help_runs(world) -> None:  # type: ignore[no-untyped-def]
    assert len(_FORMATTED) >= 10
    for source in _FORMATTED:
        assert "error" not in world.run(source), source


def test_ps_at_the_end_of_a_statement_is_dockers_table_and_a_record_elsewhere(world) -> None:  # type: ignore[no-untyped-def]
    lines = world.run("ps").splitlines()
    assert re.fullmatch(r"CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES", lines[0])
    assert re.fullmatch(r'[0-9a-f]{12}   busybox   "sleep 300"   .+ ago   Up .+   0\.0\.0\.0:8080->80/tcp   web',
                        lines[1]), lines[1]
    ident = world.run("ps | get id | first").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ident)  # the record keeps the full id
    assert world.run("ps -q").strip() == ident[:12]
    assert world.run("ps -q --no-trunc").strip() == ident
    assert world.run("ps --no-trunc").splitlines()[1].startswith(ident)
    assert world.run("(ps | first).ports | length").strip() == "1"


def test_format_uses_dockers_field_names(world) -> None:  # type: ignore[no-untyped-def]
    assert world.run("ps --format '{{.Names}}|{{.Image}}|{{.Ports}}|{{.Label \"tier\"}}|{{.Mounts}}'").strip() == \
        "web|busybox|0.0.0.0:8080->80/tcp|db|data"
    table = world.run("ps --format 'table {{.ID}}\\t{{.Names}}\\t{{.State}}'").splitlines()
    assert re.fullmatch(r"CONTAINER ID   NAMES     STATE", table[0]) and table[1].endswith("web       running")
    doc = json.loads(world.run("ps --format '{{json .}}'"))
    assert doc["Names"] == "web" and doc["State"] == "running" and "Label" not in doc
    assert world.run("inspect -f '{{.State.Status}} {{.Name}} {{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}' web"
                     ).strip() == "running /web data:/data"
    assert world.run("inspect -f '{{index .Config.Labels \"tier\"}} {{.HostConfig.RestartPolicy.Name}}' web").strip() \
        == "db no"
    assert world.run("volume inspect -f '{{.Name}} {{.Labels.app}}' data").strip() == "data shop"
    assert world.run("network inspect -f '{{.Name}} {{.Driver}}' shop").strip() == "shop bridge"
    assert world.run("image inspect -f '{{.Os}}' busybox").strip() == "linux"
    assert world.run("images --format '{{.Repository}}:{{.Tag}}'").strip() == "busybox:latest"
    assert world.run("volume ls --format '{{.Name}} {{.Driver}}'").strip() == "data local"
    assert "shop bridge" in world.run("network ls --format '{{.Name}} {{.Driver}}'").splitlines()
    let = world.run("let names = (ps --format '{{.Names}}')\necho $names.0")
    assert let.strip() == "web"  # --format's value is its lines


def test_statements_print_what_docker_prints_and_values_stay_records(world) -> None:  # type: ignore[no-untyped-def]
    out = world.run("run -d --name tmp busybox sleep 300").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", out)
    assert world.run("let c = run -d --name tmp2 busybox sleep 300\necho \"$c.name $c.status\"").strip() == "tmp2 running"
    assert world.run("stop -t 1 tmp tmp2").splitlines() == ["tmp", "tmp2"]
    assert world.run("start tmp").strip() == "tmp"
    assert world.run("rm -f tmp tmp2").splitlines() == ["tmp", "tmp2"]
    assert world.run("volume create cache").strip() == "cache"
    assert re.fullmatch(r"[0-9a-f]{64}", world.run("network create backend").strip())
    assert world.run("volume rm cache").strip() == "cache"
    assert world.run("network rm backend").strip() == "backend"


def test_json_output_keeps_records(cli, world) -> None:  # type: ignore[no-untyped-def]
    result = cli("--json", "ps")
    rows = json.loads(result.stdout)
    assert rows[0]["name"] == "web" and len(rows[0]["id"]) == 64


def test_a_written_out_template_error_stops_the_script_before_anything_runs(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("-c", "run -d --name early busybox sleep 300\nps --format '{{.Names'")
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("error[check]: `ps`: flag `--format` template: 1:1: unclosed action"), err
    assert cli("ps", "-a", "-q").stdout == b""  # nothing ran


def test_a_computed_template_error_names_its_position(cli, world) -> None:  # type: ignore[no-untyped-def]
    result = cli("-c", "let f = '{{.ID}} {{.Nope}}'\nps -a --format $f")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("error[invalid-argument]: template: 1:11: can't evaluate field Nope")


def test_verbs_docker_keeps_quiet_about_print_nothing(world) -> None:  # type: ignore[no-untyped-def]
    assert world.run("rename web web2") == ""
    assert world.run("rename web2 web\nupdate --restart always web").strip() == "web"
    assert world.run("network connect shop web") == ""
    assert world.run("network disconnect shop web") == ""
    assert world.run("tag busybox local/tools:1") == ""
    assert world.run("rmi local/tools:1").splitlines() == ["Untagged: local/tools:1"]
