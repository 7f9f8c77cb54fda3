"""Time arguments (managers.times.parse_time), read the same way by logs, events and the until= filters."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from ctrd.errors import InvalidArgument
from managers.times import parse_time

NOW = 1_796_601_635 * 10**9


@pytest.mark.parametrize(("text", "back_ns"), [
    ("10m", 600 * 10**9), ("1h30m", 5400 * 10**9), ("1.5h", 5400 * 10**9), ("2d", 2 * 86400 * 10**9),
    ("500ms", 5 * 10**8), ("90s", 90 * 10**9),
])
def test_a_duration_is_that_long_before_now(text: str, back_ns: int) -> None:
    assert parse_time(text, "--since", now_ns=NOW) == NOW - back_ns
    assert parse_time(text, "--until", now_ns=NOW, forward=True) == NOW + back_ns


def test_unix_seconds_and_rfc3339_are_absolute() -> None:
    assert parse_time("1700000000", "--since") == 1_700_000_000 * 10**9
    assert parse_time("1700000000.25", "--since") == 1_700_000_000_250_000_000
    assert parse_time("2026-12-06T10:00:00Z", "--since") == 1_796_551_200 * 10**9
    assert parse_time("2026-12-06T12:00:00+02:00", "--since") == 1_796_551_200 * 10**9
    assert parse_time("2026-12-06T10:00:00.123456789Z", "--since") == 1_796_551_200_123_456_789


def test_a_time_without_a_zone_is_local_as_docker_reads_it() -> None:
    local = int(datetime(2026, 12, 6, 10, 0, 0).astimezone().timestamp()) * 10**9
    assert parse_time("2026-12-06T10:00:00", "--since") == local
    assert parse_time("2026-12-06T10:00", "--since") == local
    day = int(datetime(2026, 12, 6).astimezone().timestamp()) * 10**9
    assert parse_time("2026-12-06", "--since") == day


def test_a_duration_value_of_the_language_is_nanoseconds() -> None:
    assert parse_time(5 * 10**9, "--since", now_ns=NOW) == NOW - 5 * 10**9


@pytest.mark.parametrize("text", ["yesterday", "10 minutes", "-5m", "2026-13-45", "2026-12-06T25:00:00", "1e9", "m"])
def test_anything_else_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(InvalidArgument, match="--since"):
        parse_time(text, "--since")


def test_nothing_given_is_no_bound() -> None:
    assert parse_time(None, "--since") is None and parse_time("", "--until") is None
    assert abs(parse_time("0s", "--since") - time.time_ns()) < 60 * 10**9  # type: ignore[operator]
