"""The filters, called directly with a stand-in context (closures are Python callables here)."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument
from pouchsh.values import Size, Stream
from tests.builtins.builtin_ctx import FakeContext, invoke

ROWS = [
    {"name": "web", "n": 3, "labels": {"app": "shop"}},
    {"name": "db", "n": 1, "labels": {"app": "data"}},
    {"name": "api", "n": 2, "labels": {}},
]


def endless(closed: list[bool]) -> Stream:
    def count():
        i = 0
        while True:
            yield {"i": i}
            i += 1

    return Stream(count(), close=lambda: closed.append(True))


def test_where_keeps_matching_rows():
    assert invoke("where", lambda r: r["n"] > 1, input=ROWS) == [ROWS[0], ROWS[2]]


def test_where_rejects_a_scalar_with_its_kind():
    with pytest.raises(InvalidArgument, match="where: expected a table or list, got int"):
        invoke("where", lambda r: True, input=3)


def test_where_on_a_stream_stays_lazy_and_closes_its_source():
    closed: list[bool] = []
    out = invoke("where", lambda r: r["i"] % 2 == 0, input=endless(closed))
    assert isinstance(out, Stream)
    assert [next(out)["i"] for _ in range(3)] == [0, 2, 4]
    out.close()
    assert closed == [True]


def test_first_on_an_endless_stream_takes_n_and_closes_it():
    closed: list[bool] = []
    assert invoke("first", 3, input=endless(closed)) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert closed == [True]


def test_first_and_last_without_n_give_the_item():
    assert invoke("first", input=["a", "b"]) == "a"
    assert invoke("last", input=["a", "b"]) == "b"
    assert invoke("first", input=[]) is None
    assert invoke("last", 2, input=["a", "b", "c"]) == ["b", "c"]


def test_negative_counts_are_refused():
    with pytest.raises(InvalidArgument, match="first: n must be 0 or more"):
        invoke("first", -1, input=[1])


def test_skip_defaults_to_one():
    assert invoke("skip", input=[1, 2, 3]) == [2, 3]
    assert invoke("skip", 5, input=[1, 2, 3]) == []


def test_select_on_table_and_record():
    assert invoke("select", "name", "labels.app", input=ROWS[:2]) == [
        {"name": "web", "labels.app": "shop"},
        {"name": "db", "labels.app": "data"},
    ]
    assert invoke("select", "n", input=ROWS[0]) == {"n": 3}


def test_select_names_the_row_that_lacks_a_field():
    with pytest.raises(InvalidArgument, match="no field 'app' in the record"):
        invoke("select", "labels.app", input=ROWS)


def test_get_walks_cell_paths():
    assert invoke("get", "labels.app", input=ROWS[0]) == "shop"
    assert invoke("get", "name", input=ROWS) == ["web", "db", "api"]
    assert invoke("get", "1.name", input=ROWS) == "db"
    assert invoke("get", "labels.app?", input=ROWS) == ["shop", "data", None]
    assert invoke("get", "missing?", input=ROWS[0]) is None


def test_get_errors_say_what_exists():
    with pytest.raises(InvalidArgument, match=r"get: no field 'nme' in the record \(its fields: name, n, labels\)"):
        invoke("get", "nme", input=ROWS[0])
    with pytest.raises(InvalidArgument, match="row 0 has no field 'x'"):
        invoke("get", "x", input=ROWS)
    with pytest.raises(InvalidArgument, match="index 7 is out of range"):
        invoke("get", "7", input=ROWS)


def test_sort_by_field_closure_and_reverse_with_nulls_last():
    assert [r["name"] for r in invoke("sort-by", "n", input=ROWS)] == ["db", "api", "web"]
    assert [r["name"] for r in invoke("sort-by", lambda r: r["name"], input=ROWS)] == ["api", "db", "web"]
    assert invoke("sort-by", input=[3, None, 1, 2], reverse=True) == [3, 2, 1, None]
    assert invoke("sort-by", input=[Size(10), Size(2)]) == [Size(2), Size(10)]


def test_sort_by_mixed_kinds_is_an_error():
    with pytest.raises(InvalidArgument, match=r"sort-by: cannot order values of different kinds \(int, string\)"):
        invoke("sort-by", input=[1, "a"])


def test_length_uniq_reverse_group_by():
    assert invoke("length", input=ROWS) == 3
    assert invoke("length", input=None) == 0
    assert invoke("uniq", input=["b", "a", "b", {"x": 1}, {"x": 1}]) == ["b", "a", {"x": 1}]
    assert invoke("reverse", input=[1, 2, 3]) == [3, 2, 1]
    groups = invoke("group-by", "labels.app?", input=ROWS)
    assert list(groups) == ["shop", "data", "null"]
    assert groups["shop"] == [ROWS[0]]


def test_length_reads_a_stream_to_the_end_and_closes_it():
    closed: list[bool] = []
    assert invoke("length", input=Stream(iter([1, 2]), close=lambda: closed.append(True))) == 2
    assert closed == [True]


def test_filters_on_records_say_what_they_expect():
    for name, args in (("length", ()), ("uniq", ()), ("reverse", ()), ("sort-by", ())):
        with pytest.raises(InvalidArgument, match=f"{name}: expected a table or list, got record"):
            invoke(name, *args, input={"a": 1})


def test_where_calls_the_closure_once_per_item():
    ctx = FakeContext([1, 2, 3])
    invoke("where", lambda x: x > 1, ctx=ctx)
    assert ctx.calls == 3


def test_keys_are_paths_or_closures():
    assert invoke("sort-by", 1, input=[[0, 2], [0, 1]]) == [[0, 1], [0, 2]]
    with pytest.raises(InvalidArgument, match="group-by: the key must be a field name or a closure, got bool"):
        invoke("group-by", True, input=ROWS)
