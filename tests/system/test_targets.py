"""pouchsh.commands.common: the targets of a manager verb, its result shape (pure)."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument
from pouchsh.commands.common import one_or_all, targets
from pouchsh.values import Stream
from tests.builtins.builtin_ctx import FakeContext


def test_arguments_win_over_the_pipe() -> None:
    assert targets(FakeContext(["x"]), ["a", "b"], "volume") == ["a", "b"]


def test_piped_strings_and_records() -> None:
    ctx = FakeContext(["a", {"name": "b", "id": "1"}, {"id": "2"}])
    assert targets(ctx, [], "image", keys=("name", "id")) == ["a", "b", "2"]
    assert targets(FakeContext({"id": "c1", "name": "web"}), [], "container", keys=("id", "name")) == ["c1"]
    assert targets(FakeContext("solo"), [], "volume") == ["solo"]


def test_a_piped_stream_is_read_and_closed() -> None:
    closed: list[bool] = []
    stream = Stream(iter(["a", "b"]), close=lambda: closed.append(True))
    assert targets(FakeContext(stream), [], "container") == ["a", "b"]
    assert closed == [True]


def test_an_empty_selection_piped_in_is_no_targets() -> None:
    assert targets(FakeContext([]), [], "container") == []


def test_nothing_given_and_nothing_piped_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="no network given"):
        targets(FakeContext(), [], "network")
    assert targets(FakeContext(), [], "network", required=False) == []


def test_a_piped_record_without_the_naming_field_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="no name field"):
        targets(FakeContext([{"size": 1}]), [], "volume")


def test_one_or_all() -> None:
    assert one_or_all([{"a": 1}], True) == {"a": 1}
    assert one_or_all([{"a": 1}], False) == [{"a": 1}]
    assert one_or_all([], True) == []
    assert one_or_all([1, 2], True) == [1, 2]
