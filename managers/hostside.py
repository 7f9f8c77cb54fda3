"""The host's side of ``cp`` and ``top``: tar streams of host paths (managers.cphost writes the other way),
and process rows from /proc or the host's ``ps``."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from ctrd.errors import InvalidArgument


def _split_cp(arg: str) -> tuple[str | None, str]:
    """``web:/etc/x`` → ("web", "/etc/x"); a host path (``./a:b``, ``/x``) → (None, path)."""
    if arg == "-" or arg.startswith(("/", ".", "~")):
        return None, arg
    ref, sep, path = arg.partition(":")
    if not sep or not ref:
        return None, arg
    return ref, path or "/"


def _tar_host(path: Path) -> bytes:
    # tarfile (~4.5 ms of imports by -X importtime) loads only for a copy, not with every container verb.
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(path), arcname=path.name or ".", recursive=True)
    return buf.getvalue()


#: The columns of docker's default ``top`` (the host's ``ps -ef``), in order: the keys of a ``top`` record.
TOP_COLUMNS = ("uid", "pid", "ppid", "c", "stime", "tty", "time", "cmd")


def _proc_row(pid: int, now: float | None = None) -> dict[str, Any] | None:
    """One process as ``ps -ef`` shows it (``TOP_COLUMNS``), read from the host's /proc; None when it
    has gone. Only the host's view of the process is read: nothing inside the container's root."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    boot, uptime = _boot_time_and_uptime()
    started = int(fields[19]) / ticks  # since boot
    running = max(uptime - started, 0.0)
    if not cmd:  # a kernel thread or a zombie: ps shows the command name in brackets
        cmd = f"[{comm}]" + (" <defunct>" if fields[0] == "Z" else "")
    return {
        "uid": uid,
        "pid": pid,
        "ppid": int(fields[1]),
        # ps's C: the CPU time used over the time it has run, in per cent, at most 99
        "c": min(int(cpu * 100 / running), 99) if running > 0 else 0,
        "stime": _ps_start(boot + started, time.time() if now is None else now),
        "tty": _tty_name(int(fields[4])),
        "time": _cpu_time(int(cpu)),
        "cmd": cmd,
    }


def _boot_time_and_uptime() -> tuple[float, float]:
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime, uptime


def _ps_start(started: float, now: float) -> str:
    """ps's STIME: ``HH:MM`` on the same day, ``MonDD`` in the same year, else the year (local time)."""
    when, today = time.localtime(started), time.localtime(now)
    if when.tm_year != today.tm_year:
        return str(when.tm_year)
    return time.strftime("%H:%M" if when.tm_yday == today.tm_yday else "%b%d", when)


def _cpu_time(seconds: int) -> str:
    """ps's TIME: ``[DD-]HH:MM:SS`` of CPU used."""
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def _tty_name(tty_nr: int) -> str:
    """The controlling terminal's name from its device number, as ps prints it (``?`` for none)."""
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:  # Unix98 pseudo-terminals
        return f"pts/{(major - 136) * 256 + minor}"
    if major == 4:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    return "?"


def _ps_table(args: list[str], pids: list[int]) -> list[dict[str, Any]]:
    try:
        proc = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InvalidArgument("top with ps options needs ps on the host") from None
    if proc.returncode != 0:
        raise InvalidArgument(f"top: ps {' '.join(args)}: {proc.stderr.strip()}")
    lines = proc.stdout.splitlines()
    if not lines:
        return []
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument("top: the ps options must include the PID column")
    at = header.index("PID")
    wanted = {str(p) for p in pids}
    rows = []
    for line in lines[1:]:
        cells = line.split(None, len(header) - 1)
        if len(cells) > at and cells[at] in wanted:
            rows.append({h.lower(): v for h, v in zip(header, cells)})
    return rows
