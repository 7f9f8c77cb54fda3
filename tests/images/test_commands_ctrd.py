"""The image commands' bound functions, called as the evaluator calls them, on the real containerd."""

from __future__ import annotations

import io
import threading
from types import SimpleNamespace

import pytest

from ctrd.errors import InvalidArgument
from pouchsh.commands import load as load_commands
from pouchsh.values import Size
from tests.support.images import BUSYBOX_NAME, layout_tar

pytestmark = pytest.mark.containerd


def ctx(managers, tmp_path, *, input=None, stdin=b"", terminal=False):
    return SimpleNamespace(
        managers=managers, unsettled_managers=managers, input=input, has_input=input is not None, cwd=str(tmp_path), env={},
        stdin=io.BytesIO(stdin), stdout=io.BytesIO(), stderr=io.BytesIO(), is_terminal=terminal,
        json_output=False, cancel=threading.Event(),
    )  # fmt: skip


def run(name, c, **kwargs):
    cmd = load_commands().get(name)
    assert cmd is not None, name
    args = {f.dest: f.default_value() for f in cmd.flags}
    args.update({p.dest: ([] if p.rest else p.default) for p in cmd.params})
    args.update(kwargs)
    return cmd.fn(c, **args)


def test_load_images_where_size_select(managers, busybox_layout, tmp_path) -> None:
    archive = layout_tar(busybox_layout, tmp_path / "bb.tar")
    loaded = run("load", ctx(managers, tmp_path), input="bb.tar")
    assert [r["name"] for r in loaded] == [BUSYBOX_NAME]
    table = run("images", ctx(managers, tmp_path))
    assert isinstance(table[0]["size"], Size)
    assert [r for r in table if r["size"] > Size(10 << 20)] == []  # busybox-static is ~1 MiB gzip
    assert [r["name"] for r in table if r["size"] > Size(100 << 10)] == [BUSYBOX_NAME]
    assert run("images", ctx(managers, tmp_path), quiet=True) == [table[0]["id"][7:19]]
    # from stdin too, and save to stdout when it is not a terminal
    again = run("load", ctx(managers, tmp_path, stdin=archive.read_bytes()), quiet=True)
    assert again == [BUSYBOX_NAME]
    out = ctx(managers, tmp_path)
    assert run("save", out, image=["busybox"]) is None
    assert out.stdout.getvalue()[:512].find(b"oci-layout") >= 0
    with pytest.raises(InvalidArgument, match="terminal"):
        run("save", ctx(managers, tmp_path, terminal=True), image=["busybox"])


def test_rmi_takes_piped_records(managers, busybox_image, tmp_path) -> None:
    run("tag", ctx(managers, tmp_path), source="busybox", target="piped:1")
    table = run("images", ctx(managers, tmp_path), filter=["reference=piped*"])
    removed = run("rmi", ctx(managers, tmp_path, input=table))
    assert [r["name"] for r in removed] == ["docker.io/library/piped:1"]
    assert run("image prune", ctx(managers, tmp_path), all=True)["reclaimed"] > Size(0)


def test_load_of_a_missing_file(managers, tmp_path) -> None:
    from ctrd.errors import NotFound

    with pytest.raises(NotFound, match="no such file"):
        run("load", ctx(managers, tmp_path), input="missing.tar")
