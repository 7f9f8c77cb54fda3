"""Checkpoints (docker's ``checkpoint create|ls|rm`` and ``start --checkpoint``) through containerd,
with CRIU doing the work in the runc shim.

A checkpoint is a directory, ``<container's state dir>/checkpoints/<name>/image`` (CRIU's image files,
written by runc's ``checkpoint --image-path``; CRIU's logs in ``…/work``), so it goes with the container.
``create`` is Tasks.Checkpoint with runc's CheckpointOptions; restoring is Tasks.Create given the image
as containerd wants it: a tar (``application/vnd.containerd.container.criu.checkpoint.criu.tar``) in its
content store, written under a lease held until the task is up.

Before either, ``criu check`` must pass: CRIU that cannot work with the kernel fails deep inside the
shim with "criu failed: type DUMP errno 0" and the real cause in a log file. Debian bookworm's criu 3.17
fails on kernels ≥ 6.13 (their vDSO split in two, ``[vvar_vclock]``; CRIU handles it from 4.1), and the
error says so, with what ``criu check`` printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PouchRuntimeError, Unavailable

__all__ = ["CRIU_TAR", "CheckpointManager", "criu_check"]

CRIU_TAR = "application/vnd.containerd.container.criu.checkpoint.criu.tar"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
# Where runc (in the shim, with containerd's environment) finds criu when no CriuPath is set.
_SEARCH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_checked: dict[str, str | None] = {}


def criu_check() -> str:
    """The criu binary runc will use, once ``criu check`` passed with it; else the reason it cannot
    checkpoint here (``NotFound`` without criu, ``Unavailable`` when criu does not work with the kernel)."""
    path = shutil.which("criu", path=f"{os.environ.get('PATH', '')}:{_SEARCH}")
    if path is None:
        raise NotFound("checkpoints need CRIU, which is not installed", hint="apt-get install criu (4.1 or later)")
    if path in _checked:
        failure = _checked[path]
        if failure is not None:
            raise Unavailable(failure)
        return path
    try:
        proc = subprocess.run([path, "check"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"checkpoints need CRIU, and `{path} check` did not run: {e}") from None
    if proc.returncode == 0:
        _checked[path] = None
        return path
    output = proc.stdout + proc.stderr
    errors = [line.strip() for line in output.splitlines() if line.lstrip().startswith("Error")][:4]
    version = _criu_version(path)
    why = "; ".join(errors) or output.strip()[-300:]
    failure = f"checkpoints need CRIU, and `criu check` fails here ({version or 'criu'} on kernel {os.uname().release}): {why}"
    if "vdso" in output.lower() and _kernel_at_least(6, 13):
        failure += (" (kernels 6.13 and later split the vDSO's vvar area in two, which CRIU handles from "
                    "version 4.1 on: install criu 4.1 or later)")
    _checked[path] = failure
    raise Unavailable(failure)


def _criu_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = re.search(r"Version:\s*(\S+)", out)
    return f"criu {found.group(1)}" if found else ""


def _kernel_at_least(major: int, minor: int) -> bool:
    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= (major, minor)  # type: ignore[union-attr]


def validate_checkpoint_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(f"invalid checkpoint name {name!r}: letters, digits, '_', '.', '-', at most 128")
    return name


class CheckpointManager:
    """``ctx.managers.checkpoints``."""

    def __init__(self, facade: Any) -> None:
        self.facade = facade

    @property
    def _containers(self) -> Any:
        return self.facade.containers

    def _dir(self, cid: str, name: str | None = None) -> Path:
        base = self._containers.paths.state_dir(cid) / "checkpoints"
        return base if name is None else base / validate_checkpoint_name(name)

    def create(self, ref: str, name: str, *, leave_running: bool = False) -> dict[str, Any]:
        """CRIU-dump container ``ref`` as checkpoint ``name``; it stops unless ``leave_running``."""
        validate_checkpoint_name(name)
        found = self._containers.resolver.get(ref)
        cid = found.id
        tasks = self.facade.ctrd.tasks
        try:
            running = tasks.get(cid).status == "running"
        except NotFound:
            running = False
        if not running:
            raise Conflict(f"container {ref} is not running: only a running container can be checkpointed")
        criu_check()
        target = self._dir(cid, name)
        from ctrd.private import private_dir

        private_dir(target.parent)
        try:
            target.mkdir(mode=0o700)
        except FileExistsError:
            raise AlreadyExists(f"container {ref} already has a checkpoint {name}", hint=f"checkpoint rm {ref} {name}") from None
        try:
            (target / "image").mkdir(mode=0o700)
            (target / "work").mkdir(mode=0o700)
            tasks.checkpoint(cid, image_path=str(target / "image"), work_path=str(target / "work"),
                             exit=not leave_running)
        except BaseException as err:
            detail = _dump_errors(target / "work")
            shutil.rmtree(target, ignore_errors=True)
            if detail and isinstance(err, PouchRuntimeError):
                raise PouchRuntimeError(f"checkpoint {name} of {ref}: {detail}") from err
            raise
        return self._record(cid, name)

    def list(self, ref: str) -> list[dict[str, Any]]:
        cid = self._containers.resolver.get(ref).id
        try:
            names = sorted(os.listdir(self._dir(cid)))
        except FileNotFoundError:
            return []
        return [self._record(cid, n) for n in names if _NAME.match(n)]

    def remove(self, ref: str, name: str) -> str:
        cid = self._containers.resolver.get(ref).id
        target = self._dir(cid, name)
        if not target.is_dir():
            raise NotFound(f"container {ref} has no checkpoint {name}")
        shutil.rmtree(target)
        return name

    def restore(self, ref: str, name: str) -> dict[str, Any]:
        """``start --checkpoint NAME``: start the stopped container ``ref`` from its checkpoint."""
        containers = self._containers
        found = containers.resolver.get(ref)
        image = self._dir(found.id, name) / "image"
        if not image.is_dir():
            raise NotFound(f"container {ref} has no checkpoint {name}", hint=f"checkpoint ls {ref}")
        criu_check()
        c = containers.lifecycle.prepare_start(found)
        if c is None:
            raise Conflict(f"container {ref} is running: stop it before restoring a checkpoint")
        import tempfile

        from ctrd.descriptors import Descriptor

        with tempfile.TemporaryFile(dir=self._dir(found.id)) as archive, self.facade.ctrd.lease() as leased:
            digest, size = _tar(image, archive)
            archive.seek(0)
            leased.content.write(archive, expected=digest, total=size)
            containers.lifecycle.start_detached(c, containers.lifecycle.plan_for(c),
                                                checkpoint=Descriptor(CRIU_TAR, digest, size))
        return containers.resolver.record(found.id)  # type: ignore[no-any-return]

    def _record(self, cid: str, name: str) -> dict[str, Any]:
        path = self._dir(cid, name)
        size = sum(f.stat().st_size for f in (path / "image").iterdir() if f.is_file()) if (path / "image").is_dir() else 0
        from datetime import UTC, datetime

        created = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"name": name, "container": cid, "created": created, "size": size}


def _tar(directory: Path, out: Any) -> tuple[str, int]:
    """A tar of CRIU's image files (flat, as runc writes them) into ``out``; its digest and size."""
    import hashlib
    import tarfile

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(directory)):
            path = directory / entry
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=entry, recursive=False)
    size = out.tell()
    out.seek(0)
    digest = hashlib.sha256()
    while chunk := out.read(1 << 20):
        digest.update(chunk)
    return f"sha256:{digest.hexdigest()}", size


def _dump_errors(work: Path) -> str:
    """The ``Error`` lines of CRIU's dump log, where runc's own message only says "criu failed"."""
    try:
        text = (work / "dump.log").read_text(errors="replace")
    except OSError:
        return ""
    return "; ".join(line.strip() for line in text.splitlines() if "Error" in line)[:600]

