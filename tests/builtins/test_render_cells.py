"""A plain table takes a shortcut for one-line strings; every cell must still read as ``inline`` does."""

from __future__ import annotations

from typing import Any

import pytest

from pouchsh.cells import inline
from pouchsh.render import render
from pouchsh.values import Duration, Size


@pytest.mark.parametrize("value", [
    "web", "two\nlines", "cr\r", "", None, 0, -7, True, False, 1.5, Size(2048), Duration(10**9),
    [], {}, ["none"], {"a": None}, [[]], [{"k": "v\n"}],
])
def test_a_cell_reads_as_inline(value: Any) -> None:
    shown = render([{"v": value}, {"v": "x"}]).split("\n")[1]
    assert shown.strip() == inline(value).strip()


def test_a_table_of_records_with_the_same_fields_and_one_lacking_some() -> None:
    same = [{"id": "a", "n": 1, "pid": None}, {"id": "bb", "n": 22, "pid": 7}]
    assert render(same) == "id   n  pid\na    1\nbb  22    7"
    assert render([*same, {"n": 3, "extra": [1]}]) == (
        "id   n  pid  extra\na    1\nbb  22    7\n     3       [1]"
    )
