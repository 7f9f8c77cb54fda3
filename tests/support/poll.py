"""Waiting for a condition in tests: a poll with a deadline (never a fixed sleep), generous enough for a
loaded machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["poll"]

T = TypeVar("T")


def poll(check: Callable[[], T], what: str | Callable[[], str], timeout: float = 60, *,
         interval: float = 0.05) -> T:
    """``check()`` every ``interval`` seconds until it returns something true, which is returned; an
    AssertionError naming ``what`` (text, or a function that says it at that moment) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {what if isinstance(what, str) else what()}")
        time.sleep(interval)
