"""Small conversions between protobuf well-known types and Python values, shared by the wrappers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["rfc3339", "to_datetime"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Go's zero time.Time (0001-01-01T00:00:00Z), which containerd sends for "not yet" (exited_at of a live task)
_GO_ZERO_TIME = -62135596800


def to_datetime(ts: Timestamp) -> datetime | None:
    """A protobuf Timestamp as an aware UTC datetime; None for the zero value containerd sends for "unset"."""
    seconds, nanos = ts.seconds, ts.nanos
    if (seconds == 0 or seconds == _GO_ZERO_TIME) and nanos == 0:
        return None
    # what Timestamp.ToDatetime computes, without its Python-level checks: a listing converts a
    # thousand of these (ToDatetime takes six times as long)
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def rfc3339(when: datetime) -> str:
    """The timestamp format containerd's labels use (``containerd.io/gc.expire``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
