"""Which process a lease belongs to, and whether that process is gone.

A lease outlives a SIGKILLed client until its ``containerd.io/gc.expire`` (24 h), and keeps whatever the
client was writing (content, snapshots) for as long. So every lease ctrd makes carries
``pouchsh/owner=<hostname>:<pid>:<start time>:<boot id>:<pid namespace>``, and a lease whose owner is gone
can be deleted at once (``system prune``). The start time (field 22 of ``/proc/<pid>/stat``, clock ticks
since boot) tells a reused pid from the owner; the boot id tells a reboot (where pids and start times
begin again); the pid namespace says whether this process can see the owner's pid at all.

Only a verdict of "gone" is acted on, and it needs proof: a label that does not parse, another host,
another pid namespace, or an unreadable ``/proc`` all mean "cannot tell", and the lease is kept.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OWNER_LABEL", "Owner", "is_gone", "this_process"]

OWNER_LABEL = "pouchsh/owner"

_PROC = Path("/proc")
_BOOT_ID = _PROC / "sys" / "kernel" / "random" / "boot_id"


@dataclass(frozen=True, slots=True)
class Owner:
    """A process, identified so that neither pid reuse nor a reboot can be mistaken for it."""

    host: str
    pid: int
    start: int
    boot_id: str
    pid_ns: int

    def label(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.boot_id}:{self.pid_ns}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        parts = text.split(":")
        if len(parts) != 5:
            return None
        host, pid, start, boot_id, pid_ns = parts
        try:
            return cls(host, int(pid), int(start), boot_id, int(pid_ns))
        except ValueError:
            return None


_self: tuple[int, Owner] | None = None


def this_process() -> Owner:
    """This process as an owner (computed once per pid: a forked child is a different owner)."""
    global _self
    pid = os.getpid()
    if _self is None or _self[0] != pid:
        start = _start_time(pid)
        if start is None:  # only without /proc, where no owner could ever be proved gone either
            start = 0
        _self = (pid, Owner(socket.gethostname(), pid, start, _boot_id(), _pid_ns()))
    return _self[1]


def is_gone(label: str | None) -> bool:
    """True only when the owner named by ``label`` ran on this host and provably no longer runs."""
    if not label:
        return False
    owner = Owner.parse(label)
    me = this_process()
    if owner is None or owner.host != me.host or not me.boot_id:
        return False
    if owner.boot_id != me.boot_id:
        return True  # the machine rebooted since: every process of that boot is gone
    if owner.pid_ns != me.pid_ns or not me.start:
        return False
    return _start_time(owner.pid) != owner.start


def _start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``; None if there is no such process or it is a zombie."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces and ')'.
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped: it will not touch its lease again
        return None
    return int(fields[19])


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _pid_ns() -> int:
    try:
        return os.stat(_PROC / "self" / "ns" / "pid").st_ino
    except OSError:
        return 0
