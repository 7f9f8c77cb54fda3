"""Decoding the cgroup figures out of Tasks.Metrics payloads (no containerd: hand-made wire bytes)."""

from __future__ import annotations

from google.protobuf import any_pb2

from ctrd.tasks import _metrics


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def test_cgroups_v2_figures() -> None:
    raw = (
        field(1, field(1, 3) + field(2, 100))  # pids
        + field(2, field(1, 5) + field(2, 4))  # cpu: usage_usec, user_usec
        + field(4, field(1, 7) + field(32, 4096) + field(33, 1 << 40))  # memory
    )
    m = _metrics("c1", None, any_pb2.Any(type_url="io.containerd.cgroups.v2.Metrics", value=raw))
    assert (m.pids, m.pids_limit, m.cpu_ns, m.memory_bytes, m.memory_limit) == (3, 100, 5000, 4096, 1 << 40)
    assert m.raw == raw


def test_cgroups_v1_figures_and_absent_parts() -> None:
    raw = (
        field(2, field(1, 2))
        + field(3, field(1, field(1, 123456) + field(2, 1)))
        + field(4, field(33, field(2, 999)))
    )
    m = _metrics("c1", None, any_pb2.Any(type_url="io.containerd.cgroups.v1.Metrics", value=raw))
    assert (m.pids, m.pids_limit, m.cpu_ns, m.memory_bytes, m.memory_limit) == (2, 0, 123456, 999, 0)


def test_unknown_type_keeps_raw_only() -> None:
    m = _metrics("c1", None, any_pb2.Any(type_url="example.Other", value=b"\x08\x01"))
    assert (m.type_url, m.raw, m.pids, m.cpu_ns) == ("example.Other", b"\x08\x01", None, None)
