"""lxcfs: a container's own view of /proc/meminfo, cpuinfo, stat, uptime, diskstats, swaps, loadavg and
/sys/devices/system/cpu/online (``run --enable-lxcfs``, or ``enable-lxcfs = true`` in the settings).

lxcfs (Debian's package) is a FUSE file system that answers those files from the reader's cgroup. pouchsh
uses the system's when one is mounted at /var/lib/lxcfs, else runs its own: ``lxcfs --enable-cfs -l -p
<run root>/lxcfs/lxcfs.pid <run root>/lxcfs/mnt`` (a 0700 directory no container can reach), started on
first use and found again by its pid file and mount afterwards. Each file is bind-mounted read-only into
the container (``BIND_FILES``); the container gets the label ``pouchsh/lxcfs``.

**Restarts.** When lxcfs stops, every bind in running containers fails with "Transport endpoint is not
connected" (ENOTCONN), and a new lxcfs fixes only the host's mount: the containers still hold the dead
FUSE connection (the bug PouchContainer never fixed). ``ensure`` restarts a dead lxcfs (a SIGKILLed one
leaves its mount behind: it is detached first) and ``reattach`` then re-binds the files of every running
lxcfs container: for each, the host makes a detached read-only clone of each live file
(``open_tree(OPEN_TREE_CLONE)`` + ``mount_setattr(MOUNT_ATTR_RDONLY)``) and a fresh interpreter holding
only those descriptors enters the container's mount namespace, detaches the dead mount and moves the
clone in its place (``move_mount``). Nothing from the container is read or run on the host, and the
targets are fixed paths: the moved mount is the host's own lxcfs file, read-only.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ctrd.errors import NotFound, PouchRuntimeError, Timeout

__all__ = ["BIND_FILES", "LABEL_VALUE", "LxcfsManager", "SYSTEM_DIR", "ensure", "reattach", "reattach_all", "spec_mounts", "status",
           "stop"]

#: the value of LABEL.LXCFS on a container whose /proc files are lxcfs's
LABEL_VALUE = "true"

SYSTEM_DIR = Path("/var/lib/lxcfs")
#: the files lxcfs virtualises, as paths under its mount and inside the container
BIND_FILES = (
    "proc/cpuinfo", "proc/diskstats", "proc/meminfo", "proc/stat", "proc/swaps", "proc/uptime", "proc/loadavg",
    "sys/devices/system/cpu/online",
)
_START_SECONDS = 15.0


def _own(run_root: str | os.PathLike[str]) -> tuple[Path, Path]:
    base = Path(run_root) / "lxcfs"
    return base / "mnt", base / "lxcfs.pid"


def _lxcfs_mounts() -> dict[str, str]:
    """mount point → fs type, for the FUSE lxcfs mounts this process can see."""
    found = {}
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if " - " not in line:
                continue
            after = line.split(" - ", 1)[1].split()
            if after and after[0] == "fuse.lxcfs":
                found[fields[4].replace("\\040", " ")] = after[0]
    return found


def _answers(directory: Path) -> bool:
    """Whether lxcfs serves ``directory``: a read, since a stat can be answered from the kernel's
    attribute cache for a while after the daemon died."""
    try:
        with open(directory / "proc" / "uptime", "rb") as f:
            return bool(f.read(64))
    except OSError:
        return False


def _pid(pid_file: Path) -> int | None:
    """The live lxcfs the pid file names, or None (a zombie is not live: the process that started it
    may still be running and not have reaped it, so it is reaped here if it is ours)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    name, state = stat[stat.find("(") + 1:stat.rfind(")")], stat[stat.rfind(")") + 2:][:1]
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return None
    return pid if name == "lxcfs" else None


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited; reaped here if this process started it (lxcfs removes its pid file
    as it exits, so the pid file cannot tell)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:][:1] == "Z"


def directory(run_root: str | os.PathLike[str]) -> Path | None:
    """The lxcfs mount in use now, if one answers: the system's, else pouchsh's own."""
    mounts = _lxcfs_mounts()
    for candidate in (SYSTEM_DIR, _own(run_root)[0]):
        if str(candidate) in mounts and _answers(candidate):
            return candidate
    return None


def ensure(run_root: str | os.PathLike[str]) -> tuple[Path, bool]:
    """A live lxcfs mount, and whether this call had to start lxcfs (then containers need ``reattach``)."""
    found = directory(run_root)
    if found is not None:
        return found, False
    binary = next((p for p in ("/usr/bin/lxcfs", "/bin/lxcfs") if os.access(p, os.X_OK)), None)
    if binary is None:
        raise NotFound("lxcfs is not installed", hint="apt-get install lxcfs")
    mnt, pid_file = _own(run_root)
    from ctrd.private import private_dir

    private_dir(mnt.parent)
    if str(mnt) in _lxcfs_mounts():
        # A SIGKILLed lxcfs leaves its mount, and a new one refuses the busy directory: detach it first.
        _umount_detached(mnt)
    private_dir(mnt)
    stale = _pid(pid_file)
    if stale is not None:
        os.kill(stale, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    log_path = pid_file.with_name("lxcfs.log")
    # lxcfs stays in the foreground and writes to stderr for as long as it runs: a file, not a pipe
    # this process would close (its next write would then kill it with SIGPIPE).
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            [binary, "--enable-cfs", "-l", "-p", str(pid_file), str(mnt)],
            stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, start_new_session=True,
        )
    finally:
        os.close(log_fd)
    deadline = time.monotonic() + _START_SECONDS
    while not (str(mnt) in _lxcfs_mounts() and _answers(mnt)):
        code = proc.poll()
        if code is not None:
            tail = log_path.read_bytes()[-500:].decode(errors="replace")
            raise PouchRuntimeError(f"lxcfs exited with status {code}: {tail}")
        if time.monotonic() > deadline:
            raise Timeout(f"lxcfs did not mount {mnt} within {_START_SECONDS:.0f} s")
        time.sleep(0.05)
    # It runs on in its own session after this process ends. While this process runs (a REPL, pouchd) it
    # is lxcfs's parent: a thread waits for it, so an lxcfs that exits (stopped or killed by another
    # process, which removes or ignores its pid file) is reaped at once instead of staying a zombie. Not
    # double-forked away: an orphan's reaper is PID 1, and one that does not reap (a container's, a VM
    # agent's) would keep every lxcfs that ever exited.
    threading.Thread(target=proc.wait, name=f"lxcfs-{proc.pid}-reaper", daemon=True).start()
    return mnt, True


def stop(run_root: str | os.PathLike[str], timeout: float = 10.0) -> bool:
    """Stop pouchsh's own lxcfs (SIGTERM: it unmounts itself) and detach what it leaves; False if none ran."""
    mnt, pid_file = _own(run_root)
    pid = _pid(pid_file)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
    if str(mnt) in _lxcfs_mounts():
        _umount_detached(mnt)
    pid_file.unlink(missing_ok=True)
    return pid is not None


def spec_mounts(source: Path) -> list[dict[str, Any]]:
    """The read-only binds of lxcfs's files (those it provides) for an OCI spec."""
    return [
        {"destination": "/" + rel, "type": "bind", "source": str(source / rel), "options": ["rbind", "ro"]}
        for rel in BIND_FILES if os.path.exists(source / rel)
    ]


def status(run_root: str | os.PathLike[str]) -> dict[str, Any]:
    found = directory(run_root)
    mnt, pid_file = _own(run_root)
    return {
        "running": found is not None, "directory": str(found or ""), "own": found == mnt,
        "pid": _pid(pid_file) if found == mnt else None,
    }


# -- re-attaching a running container's binds --------------------------------------------------------

_OPEN_TREE, _MOVE_MOUNT, _MOUNT_SETATTR = 428, 429, 442
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC, _AT_EMPTY_PATH = 1, 0o2000000, 0x1000
_MOUNT_ATTR_RDONLY = 0x1
_AT_FDCWD = -100

# Run by a fresh interpreter (one thread: setns into a mount namespace refuses a threaded process),
# holding only the namespace's descriptor and the detached clones: enter, and for each target whose
# mount is dead or not the current lxcfs file's, detach it and move the clone there. Prints how many.
# The target is opened non-blocking and not through a link, and unmounted without following one: a
# container with CAP_SYS_ADMIN could put anything at /proc/meminfo, and it only ever lands on its own.
_CHILD = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
ns_fd = int(sys.argv[1])
if libc.setns(ns_fd, 0x00020000) != 0:
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
done = 0
for item in sys.argv[2:]:
    fd, dev, target = item.split(":", 2)
    try:
        # A read, not a stat: the kernel may answer a stat of a dead FUSE file from its cache.
        # Non-blocking and not through a link: what sits there is the container's to change.
        fd_t = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            alive = bool(os.read(fd_t, 1)) and os.fstat(fd_t).st_dev == int(dev)
        finally:
            os.close(fd_t)
    except OSError:
        alive = False
    if alive:
        continue
    libc.umount2(target.encode(), 2 | 8)  # MNT_DETACH | UMOUNT_NOFOLLOW
    if libc.syscall(429, int(fd), b"", -100, target.encode(), 0x4) != 0:
        sys.exit("move_mount " + target + ": " + os.strerror(ctypes.get_errno()))
    done += 1
print(done)
"""


def reattach(pid: int, source: Path) -> int:
    """Re-bind lxcfs's files in the mount namespace of process ``pid`` (a container's init, from
    containerd) where they are dead or stale; returns how many were re-bound."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fds: list[int] = []
    args: list[str] = []
    try:
        ns_fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        fds.append(ns_fd)
        for rel in BIND_FILES:
            path = source / rel
            if not os.path.exists(path):
                continue
            fd = libc.syscall(_OPEN_TREE, _AT_FDCWD, str(path).encode(), _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC)
            if fd < 0:
                raise PouchRuntimeError(f"open_tree {path}: {os.strerror(ctypes.get_errno())}")
            fds.append(fd)
            attr = (ctypes.c_uint64 * 4)(_MOUNT_ATTR_RDONLY, 0, 0, 0)
            if libc.syscall(_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
                raise PouchRuntimeError(f"mount_setattr {path}: {os.strerror(ctypes.get_errno())}")
            args.append(f"{fd}:{os.stat(path).st_dev}:/{rel}")
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD, str(ns_fd), *args], pass_fds=fds,
                              capture_output=True, timeout=30, check=False)
    except FileNotFoundError:
        raise NotFound(f"process {pid} is gone") from None
    finally:
        for fd in fds:
            os.close(fd)
    if proc.returncode != 0:
        raise PouchRuntimeError(f"re-attaching lxcfs in process {pid}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return int(proc.stdout.strip() or 0)


def reattach_all(client: Any, source: Path) -> dict[str, Any]:
    """``reattach`` every running lxcfs container of this containerd (every namespace): how many
    containers were looked at, how many files re-bound, and the errors (one container's failure does
    not stop the others)."""
    from managers.labels import LABEL

    checked, rebound, errors = 0, 0, []
    for ns in client.namespaces.list():
        view = client.with_namespace(ns.name)
        mine = {c.id for c in view.containers.list([f'labels."{LABEL.LXCFS}"=={LABEL_VALUE}'])}
        if not mine:
            continue
        for task in view.tasks.list():
            if task.id not in mine or task.status != "running" or task.pid <= 0:
                continue
            checked += 1
            try:
                rebound += reattach(task.pid, source)
            except (NotFound, PouchRuntimeError) as e:
                errors.append(f"{ns.name}/{task.id[:12]}: {e.message}")
    return {"containers": checked, "rebound": rebound, "errors": errors}


def _umount_detached(path: Path) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(str(path).encode(), 2) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        raise PouchRuntimeError(f"umount {path}: {os.strerror(ctypes.get_errno())}")


class LxcfsManager:
    """``ctx.managers.lxcfs``: the lxcfs that --enable-lxcfs containers use."""

    def __init__(self, facade: Any) -> None:
        self.facade = facade

    def status(self) -> dict[str, Any]:
        return status(self.facade.run_root)

    def refresh(self) -> dict[str, Any]:
        """Start lxcfs if it is not running, then re-bind the files of every running lxcfs container
        whose binds are dead or stale (after lxcfs restarted): the status, with what was done."""
        source, started = ensure(self.facade.run_root)
        done = reattach_all(self.facade.client, source)
        return {**status(self.facade.run_root), "started": started, **done}

    def stop(self) -> bool:
        return stop(self.facade.run_root)
