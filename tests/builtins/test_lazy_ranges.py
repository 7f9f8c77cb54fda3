"""The filters over a range pull only what they need, and every list they make is bounded
(pouchsh.values: IntRange, Lazy, LIMITS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ctrd.errors import Limit
from pouchsh.values import LIMITS, IntRange, Lazy, Stream, collect
from tests.builtins.builtin_ctx import FakeContext, invoke

HUGE = IntRange(1, 10**18)


@pytest.fixture
def small_bound() -> Iterator[None]:
    saved = LIMITS.items
    LIMITS.items = 100
    yield
    LIMITS.items = saved


def test_a_range_is_inclusive_and_empty_when_its_end_is_before_its_start() -> None:
    assert list(IntRange(1, 3)) == [1, 2, 3]
    assert list(IntRange(1, 0)) == [] and not IntRange(1, 0)
    assert list(IntRange(3, 1)) == []
    assert list(IntRange(5, 1, -2)) == [5, 3, 1] and repr(IntRange(5, 1, -2)) == "5..1 step -2"
    assert IntRange(1, 10**30).size == 10**30 and 10**29 in IntRange(1, 10**30)
    assert IntRange(1, 3) == [1, 2, 3] and IntRange(1, 3) != [1, 2, 3.5] and IntRange(1, 3) == IntRange(1, 3)


def test_the_filters_pull_a_huge_range_one_item_at_a_time() -> None:
    assert invoke("first", 3, input=HUGE) == [1, 2, 3]
    assert invoke("first", input=HUGE) == 1
    assert invoke("last", 2, input=HUGE) == [10**18 - 1, 10**18]
    assert invoke("length", input=HUGE) == 10**18
    skipped = invoke("skip", 10**18 - 2, input=HUGE)
    assert isinstance(skipped, IntRange) and list(skipped) == [10**18 - 1, 10**18]
    kept = invoke("where", lambda x: x % 1000 == 0, input=HUGE)
    assert isinstance(kept, Lazy) and invoke("first", 2, input=kept) == [1000, 2000]
    doubled = invoke("each", lambda x: x * 2, input=HUGE)
    assert isinstance(doubled, Lazy) and invoke("first", 2, input=doubled) == [2, 4]


def test_first_closes_the_lazy_list_it_stops_reading() -> None:
    pulled: list[int] = []

    def source() -> Iterator[int]:
        for i in HUGE:
            pulled.append(i)
            yield i

    closed: list[bool] = []
    lazy = Lazy(source(), close=lambda: closed.append(True))
    assert invoke("first", 2, input=invoke("where", lambda x: True, input=lazy)) == [1, 2]
    assert pulled == [1, 2] and closed == [True]


def test_length_counts_a_lazy_list_without_keeping_it() -> None:
    ctx = FakeContext(Lazy(iter(range(10**6))))
    assert invoke("length", ctx=ctx) == 10**6


@pytest.mark.usefixtures("small_bound")
def test_every_list_a_filter_makes_is_bounded() -> None:
    for build in (
        lambda: collect(IntRange(1, 101)),
        lambda: collect(Lazy(iter(range(101)))),
        lambda: collect(Stream(iter(range(10**9)))),  # stops at the bound, not at the end
        lambda: invoke("first", 101, input=IntRange(1, 1000)),
        lambda: invoke("first", 101, input=Lazy(iter(range(1000)))),
        lambda: invoke("last", 101, input=Lazy(iter(range(1000)))),
        lambda: invoke("sort-by", input=IntRange(1, 101)),
        lambda: invoke("where", lambda x: True, input=list(range(101)) * 2),
    ):
        with pytest.raises(Limit, match="more than the 100 allowed"):
            build()
    assert invoke("first", 100, input=IntRange(1, 1000)) == list(range(1, 101))
    assert invoke("last", 100, input=Lazy(iter(range(1000)))) == list(range(900, 1000))
    assert invoke("length", input=IntRange(1, 1000)) == 1000  # counting makes no list
