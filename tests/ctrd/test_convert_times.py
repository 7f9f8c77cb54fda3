"""``to_datetime`` computes what protobuf's Timestamp.ToDatetime does, and reads containerd's two
"unset" values as None."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from ctrd.convert import to_datetime

GO_ZERO = -62135596800  # 0001-01-01T00:00:00Z


@given(st.integers(min_value=GO_ZERO, max_value=253402300799), st.integers(min_value=0, max_value=999_999_999))
def test_to_datetime_equals_protobufs_own(seconds: int, nanos: int) -> None:
    ts = Timestamp(seconds=seconds, nanos=nanos)
    got = to_datetime(ts)
    if seconds in (0, GO_ZERO) and nanos == 0:
        assert got is None
    else:
        assert got == ts.ToDatetime(tzinfo=UTC) and got is not None and got.tzinfo is UTC
