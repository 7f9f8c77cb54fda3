"""Properties of the display: any value renders in every mode, JSON reads back, tables keep one line a row."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pouchsh.render import encode_json, render, to_jsonable
from pouchsh.values import Duration, Size

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.builds(Size, st.integers(0, 2**50)),
    st.builds(Duration, st.integers(-(10**15), 10**15)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)),
    max_leaves=20,
)
rows = st.lists(st.dictionaries(st.sampled_from(["id", "name", "size", "labels"]), values, max_size=4), min_size=1, max_size=6)


@given(values)
def test_every_value_renders_in_every_mode_and_json_reads_back(value):
    render(value)
    render(value, terminal=True, width=80)
    assert json.loads(encode_json(value)) == to_jsonable(value)


@given(rows)
def test_a_plain_table_is_a_header_and_one_line_per_row(table):
    text = render(table)
    if not any(table):
        assert text == ""  # no row has a field: there is no column to show
    else:
        assert len(text.split("\n")) == len(table) + 1
