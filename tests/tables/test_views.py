"""Listings as docker shows them (pouchsh.views, pouchsh.listings): columns, cells, the layout on a
terminal and in a log, ``--format`` over docker's field names, and what a statement prints (run -d's
id, rm's names) while a pipe or an assignment keeps the record. No containerd: records are made here."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ctrd.errors import PouchError
from pouchsh import gotemplate, listings, views
from pouchsh.cells import Grid
from pouchsh.render import render

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _stamp(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def _container(name: str = "web", image: str = "docker.io/library/busybox:latest", **more: object) -> dict:
    record = {
        "id": "0123456789abcdef" * 4, "name": name, "image": image, "command": "httpd -f -p 80 -h /www",
        "status": "running", "state": "Up 3 minutes", "created": _stamp(180),
        "ports": [{"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
                  {"container_port": 53, "protocol": "udp"}],
        "labels": {"tier": "db", "app": "shop"}, "networks": ["bridge"], "exit_code": None, "pid": 42,
        "mounts": [{"type": "volume", "name": "data", "source": "/v/data/_data", "destination": "/data", "rw": True}],
        "restart": "no",
    }
    record.update(more)
    return record


def test_ps_cells_are_dockers() -> None:
    fields = listings.PS.fields(_container(), True)
    assert fields["ID"] == "0123456789ab"
    assert fields["Image"] == "busybox"
    assert fields["Command"] == '"httpd -f -p 80 -h /…"'  # docker's Ellipsis: 20 characters, the last "…"
    assert fields["RunningFor"] == "3 minutes ago"
    assert fields["Status"] == "Up 3 minutes"
    assert fields["Ports"] == "0.0.0.0:8080->80/tcp, 53/udp"
    assert fields["Labels"] == "app=shop,tier=db"
    assert fields["Mounts"] == "data" and fields["LocalVolumes"] == "1"
    full = listings.PS.fields(_container(), False)
    assert full["ID"] == "0123456789abcdef" * 4 and full["Command"] == '"httpd -f -p 80 -h /www"'


def test_ps_table_in_a_log_is_laid_out_as_docker_does() -> None:
    grid = listings.PS.show([_container(), _container("db", "redis:7", ports=[], state="Exited (0) 5 seconds ago")], {})
    assert isinstance(grid, Grid)
    lines = render(grid).splitlines()
    assert re.match(r"CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$", lines[0])
    assert re.match(r'0123456789ab   busybox +"httpd -f -p 80 -h /…"   3 minutes ago   Up 3 minutes +'
                    r"0\.0\.0\.0:8080->80/tcp, 53/udp   web$", lines[1])
    assert "Exited (0) 5 seconds ago" in lines[2] and lines[2].endswith("db")
    # columns start where their headers do
    for header in ("IMAGE", "STATUS", "NAMES"):
        column = lines[0].index(header)
        assert lines[1][column - 1] == " " and lines[1][column] != " "


def test_docker_tabwriter_minimum_width_and_padding() -> None:
    assert views.tabwrite(["A\tB\tC", "long-cell\tx\ty"]) == ["A           B         C", "long-cell   x         y"]


@pytest.mark.parametrize("width", [200, 160])
def test_names_and_images_are_never_cut_while_the_terminal_has_room(width: int) -> None:
    record = _container("my-very-long-container-name", "registry.example.com/team/image-name:1.2.3")
    text = _ANSI.sub("", render(listings.PS.show([record], {}), terminal=True, width=width))
    assert "my-very-long-container-name" in text
    assert "registry.example.com/team/image-name:1.2.3" in text
    assert "0123456789ab" in text and "Up 3 minutes" in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_on_a_narrow_terminal_commands_and_ports_give_way_before_names() -> None:
    ports = [{"host_ip": "127.0.0.1", "host_port": 8000 + i, "container_port": 80 + i, "protocol": "tcp"}
             for i in range(4)]
    record = _container("my-very-long-container-name", "busybox", ports=ports)
    text = _ANSI.sub("", render(listings.PS.show([record], {}), terminal=True, width=120))
    assert "my-very-long-container-name" in text and "busybox" in text
    assert "127.0.0.1:8000" in text and "127.0.0.1:8003->83/tcp" not in text  # the ports were cut
    assert max(len(line) for line in text.splitlines()) <= 120


def test_a_cell_cannot_inject_terminal_markup_or_break_the_layout() -> None:
    record = _container("[bold]x\x1b[31m\nnext\tcol")
    plain = render(listings.PS.show([record], {}))
    assert len(plain.splitlines()) == 2 and "\t" not in plain  # one row, its columns where they belong
    assert "[bold]x" in plain and "\\nnext" in plain
    rich = render(listings.PS.show([record], {}), terminal=True, width=200)
    assert "[bold]x" in _ANSI.sub("", rich)


def test_images_volumes_networks_history_columns() -> None:
    image = {"name": "docker.io/library/busybox:latest", "repository": "busybox", "tag": "latest",
             "id": "sha256:" + "ab" * 32, "digest": "sha256:" + "cd" * 32, "size": 4_261_234, "created": _stamp(7200)}
    assert render(listings.IMAGES.show([image], {})).splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    abababababab   2 hours ago   4.26MB",
    ]
    volume = {"name": "data", "driver": "local", "mountpoint": "/v", "labels": {}, "scope": "local"}
    assert render(listings.VOLUMES.show([volume], {})).splitlines() == ["DRIVER    VOLUME NAME", "local     data"]
    network = {"name": "shop", "id": "ef" * 32, "driver": "bridge", "labels": {}, "internal": False}
    assert render(listings.NETWORKS.show([network], {})).splitlines() == [
        "NETWORK ID     NAME      DRIVER    SCOPE", "efefefefefef   shop      bridge    local"]
    step = {"id": "<missing>", "created": _stamp(86400 * 14), "created_by": "/bin/sh -c #(nop) " + "x" * 60,
            "size": 0, "comment": ""}
    lines = render(listings.HISTORY.show([step], {})).splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith("<missing>   2 weeks ago   /bin/sh -c #(nop) xxx") and lines[1].endswith("…   0B")


def test_format_gives_one_line_per_record_and_table_a_header() -> None:
    records = [_container(), _container("db")]
    template = gotemplate.parse("{{.ID}} {{.Names}} {{.Label \"tier\"}}")
    assert listings.PS.format(records, template, trunc=True) == ["0123456789ab web db", "0123456789ab db db"]
    table = gotemplate.parse("table {{.Names}}\t{{.Ports}}\t{{.Label \"app\"}}")
    assert listings.PS.format(records, table, trunc=True) == [
        "NAMES     PORTS                          LABEL",
        "web       0.0.0.0:8080->80/tcp, 53/udp   shop",
        "db        0.0.0.0:8080->80/tcp, 53/udp   shop",
    ]
    assert listings.PS.format(records, gotemplate.parse("json"), trunc=True)[0].startswith('{"ID":"0123456789ab"')
    assert listings.PS.format(records, gotemplate.parse("table"), trunc=True)[0].startswith("CONTAINER ID   IMAGE")
    assert listings.PS.format(["0123456789ab"], template, trunc=True) == ["0123456789ab"]  # -q wins


def test_a_field_ps_does_not_have_is_an_error_as_with_docker() -> None:
    with pytest.raises(PouchError, match="can't evaluate field Nope"):
        listings.PS.format([_container()], gotemplate.parse("{{.Nope}}"), trunc=True)


def test_inspect_format_reads_dockers_inspect_shape() -> None:
    record = {**_container(), "started_at": _stamp(60), "finished_at": None, "hostname": "web", "env": ["A=1"],
              "user": {}, "workdir": "/", "tty": False, "stop_signal": "SIGTERM", "stop_timeout": 10,
              "auto_remove": False, "log_path": "/l", "runtime": "io.containerd.runc.v2",
              "snapshotter": "overlayfs", "snapshot_key": "k", "all_labels": {"tier": "db"},
              "spec": {"process": {"args": ["httpd", "-f"]}}}
    text = listings.CONTAINER_INSPECT.format(
        record, gotemplate.parse("{{.State.Status}} {{.Name}} {{join .Args \",\"}} {{range .Mounts}}{{.Name}}{{end}} "
                                 "{{index .Config.Labels \"tier\"}} {{.Nope}}"), trunc=True)
    assert text == "running /web -f data db <no value>"


def test_what_a_statement_prints_of_a_verbs_result() -> None:
    record = _container()
    assert views.show_id(record, {}) == record["id"]
    assert views.show_id([record, record], {}) == [record["id"], record["id"]]
    assert views.show_given("containers")([record], {"containers": ["we"]}) == "we"
    assert views.show_given("containers")([record, _container("db")], {"containers": []}) == ["web", "db"]
    assert views.show_name({"name": "data"}, {}) == "data"
    assert views.show_removed_images(
        [{"name": "docker.io/library/busybox:latest", "id": "sha256:ab", "deleted": True}], {}) == [
        "Untagged: busybox:latest", "Deleted: sha256:ab"]
    pulled = {"name": "docker.io/library/busybox:latest", "digest": "sha256:cd"}
    assert views.show_pulled(pulled, {}) == ["Digest: sha256:cd", "docker.io/library/busybox:latest"]
    assert views.show_pulled(pulled, {"quiet": True}) == "docker.io/library/busybox:latest"


def test_what_is_no_listing_displays_as_it_is() -> None:
    assert listings.PS.show("not a listing", {}) == "not a listing"
    formatted = ["0123456789ab web"]  # --format made text already
    assert listings.PS.show(formatted, {"format": gotemplate.parse("{{.ID}} {{.Names}}")}) is formatted
