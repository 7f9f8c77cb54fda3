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


def _proc_row(pid: int) -> dict[str, Any]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat.rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return {"pid": pid, "ppid": None, "uid": None, "cmd": "", "time": None, "state": "gone"}
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) // ticks
    return {
        "uid": uid,
        "pid": pid,
        "ppid": int(fields[1]),
        "state": fields[0],
        "time": time.strftime("%H:%M:%S", time.gmtime(cpu)),
        "cmd": cmd or stat[stat.index("(") + 1 : stat.rindex(")")],
    }


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
