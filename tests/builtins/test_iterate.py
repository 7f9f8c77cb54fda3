"""each and par-each: order, nulls, errors and cancellation."""

from __future__ import annotations

import threading

import pytest

from ctrd.errors import Interrupted, InvalidArgument, NotFound
from pouchsh.values import Stream
from tests.builtins.builtin_ctx import FakeContext, invoke


def test_each_maps_and_drops_nulls_unless_asked():
    assert invoke("each", lambda x: x * 10, input=[1, 2, 3]) == [10, 20, 30]
    assert invoke("each", lambda x: x if x > 1 else None, input=[1, 2, 3]) == [2, 3]
    assert invoke("each", lambda x: None, input=[1, 2], keep_empty=True) == [None, None]


def test_each_on_a_single_value_runs_once():
    assert invoke("each", lambda r: r["a"], input={"a": 1}) == 1


def test_each_on_a_stream_is_lazy():
    seen: list[int] = []
    out = invoke("each", lambda x: seen.append(x) or x, input=Stream(iter([1, 2, 3])))
    assert isinstance(out, Stream) and seen == []
    assert next(out) == 1 and seen == [1]


def test_par_each_keeps_input_order_whatever_finishes_first():
    # Item 0 waits until item 3 has run: with 4 workers the results finish out of order.
    last_done = threading.Event()

    def work(x: int) -> int:
        if x == 0:
            assert last_done.wait(5)
        if x == 3:
            last_done.set()
        return x * 2

    assert invoke("par-each", work, input=[0, 1, 2, 3], jobs=4) == [0, 2, 4, 6]


def test_par_each_runs_at_most_jobs_at_once():
    lock = threading.Lock()
    running = [0, 0]  # now, most

    def work(x: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        with lock:
            running[0] -= 1
        return x

    assert invoke("par-each", work, input=list(range(50)), jobs=3) == list(range(50))
    assert 1 <= running[1] <= 3


def test_par_each_first_error_stops_unstarted_items_and_is_raised():
    started: list[int] = []

    def work(x: int) -> int:
        started.append(x)
        if x == 0:
            raise NotFound("no such container: c0")
        return x

    with pytest.raises(NotFound, match="c0"):
        invoke("par-each", work, input=list(range(100)), jobs=1)
    assert started == [0]


def test_par_each_cancel_raises_interrupted():
    ctx = FakeContext(list(range(10)))
    release = threading.Event()

    def work(x: int) -> int:
        ctx.cancel.set()
        release.wait(5)
        return x

    threading.Timer(0.2, release.set).start()
    with pytest.raises(Interrupted):
        invoke("par-each", work, ctx=ctx, jobs=2)


def test_par_each_rejects_zero_jobs():
    with pytest.raises(InvalidArgument, match="--jobs must be 1 or more"):
        invoke("par-each", lambda x: x, input=[1], jobs=0)
