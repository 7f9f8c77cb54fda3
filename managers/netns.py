"""Network namespaces that outlive no task by accident: made (pinned) on the host before the task.

A bridged container's CNI ADD used to wait for Tasks.Create, whose runc makes the namespace, and the task
for the ADD. A namespace made first lets the ADD run while containerd and runc make the task
(managers.lifecycle), as CRI does for a pod's sandbox. It is made in a thread of this process: the
thread alone enters a new network namespace (``unshare(CLONE_NEWNET)`` acts on the calling thread),
sets its loopback up (runc configures ``lo`` only in a namespace it makes itself), and bind-mounts
``/proc/thread-self/ns/net`` onto a file under the run root; the mount keeps the namespace once the
thread has ended. The spec names that file, and runc joins it.

The file is ``<run root>/netns/<namespace>/<container id>``; both parts are checked names, so the path
cannot leave its directory. ``unpin`` undoes ``pin`` whatever was done of it (a mount, a file, or
nothing). Nothing here reads a container's files or enters a container's mount namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import socket
import struct
import threading
from pathlib import Path

from ctrd.errors import InvalidArgument, PouchRuntimeError

__all__ = ["DIRECTORY", "is_pinned", "path_for", "pin", "unpin"]

DIRECTORY = "netns"

_CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MNT_DETACH = 2
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_ID = re.compile(r"[0-9a-f]{64}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,75}")

_libc = ctypes.CDLL(None, use_errno=True)


def path_for(run_root: Path, namespace: str, container_id: str) -> Path:
    """Where the namespace of ``container_id`` (in containerd's ``namespace``) is pinned."""
    if not _ID.fullmatch(container_id) or not _NAMESPACE.fullmatch(namespace):
        raise InvalidArgument(f"no network namespace file for {namespace!r}/{container_id!r}")
    return Path(run_root) / DIRECTORY / namespace / container_id


def is_pinned(path: Path) -> bool:
    """Whether ``path`` holds a pinned namespace (a mount of nsfs), not just the empty file."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def pin(path: Path) -> None:
    """A new network namespace, its loopback up, bind-mounted on ``path`` (a stale one there first goes)."""
    unpin(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o400))
    failure: list[BaseException] = []

    def enter_and_mount() -> None:
        # This thread's namespace changes; the thread ends right after, so nothing else ever runs in it.
        try:
            _check(_libc.unshare(_CLONE_NEWNET), "unshare")
            _loopback_up()
            _check(_libc.mount(b"/proc/thread-self/ns/net", os.fsencode(path), None, _MS_BIND, None), "mount")
        except BaseException as err:  # handed to the caller's thread
            failure.append(err)

    thread = threading.Thread(target=enter_and_mount, name="pouchsh-netns")
    thread.start()
    thread.join()
    if failure:
        unpin(path)
        raise PouchRuntimeError(f"cannot make a network namespace at {path}: {failure[0]}")


def unpin(path: Path) -> None:
    """Unmount and remove a pinned namespace file; nothing there is not an error."""
    if _libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # not a mount point, or no file: nothing to undo
            raise PouchRuntimeError(f"cannot unmount the network namespace {path}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _check(result: int, call: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")
