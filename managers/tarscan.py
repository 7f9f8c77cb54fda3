"""Bounds on what a tar stream may expand to, checked as its bytes pass (import's rootfs tarballs, load's
archives): how far decompression may inflate it, how many members it may hold, and no sparse members.

containerd's applier writes a layer's sparse members out in full and inflates a gzip stream without limit,
so a small tarball could fill the disk under the snapshotter; these checks refuse such a stream before
containerd applies it. ``TarScanner`` is fed the uncompressed bytes in pieces (it never holds more than a
header or an extended header) and reads the member headers the way Go's archive/tar does (the reader
containerd uses): header-only types (links, devices, directories, fifos) carry no data, a PAX ``size``
record replaces the next header's size.
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from dataclasses import dataclass

from typing import Any

from ctrd.errors import InvalidArgument

__all__ = [
    "DEFAULT_FLOOR",
    "DEFAULT_RATIO",
    "LAYER_MAX_MEMBERS",
    "ExpansionLimit",
    "LayerCheck",
    "TarScanner",
]

#: with no fixed bound, the uncompressed stream may reach this many times the compressed bytes read so far...
DEFAULT_RATIO = 100
#: ...or this many bytes, whichever is larger
DEFAULT_FLOOR = 1 << 30
#: a layer's default bound on members (a full distribution has some 10^5)
LAYER_MAX_MEMBERS = 1_000_000
_BLOCK = tarfile.BLOCKSIZE
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_INFLATE_STEP = 1 << 20
_MAX_EXTENDED = 1 << 20  # a PAX or GNU long-name header's own data
_MAX_TRAILING = 1 << 20  # padding after the end of the archive (tar's records are 10 KiB by default)
_PAX = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_EXTENDED = _PAX | {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
_HEADER_ONLY = frozenset(
    {tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE}
)


@dataclass(frozen=True)
class ExpansionLimit:
    """How large an uncompressed stream may grow: ``fixed`` bytes when set, else the larger of
    ``floor`` and ``ratio`` times the compressed bytes read so far (so a bomb stops early)."""

    fixed: int | None = None
    ratio: int = DEFAULT_RATIO
    floor: int = DEFAULT_FLOOR

    def check(self, uncompressed: int, compressed: int, what: str) -> None:
        bound = self.fixed if self.fixed is not None else max(self.floor, self.ratio * compressed)
        if uncompressed > bound:
            rule = (
                f"{self.fixed} bytes"
                if self.fixed is not None
                else f"{self.floor} bytes or {self.ratio} times its compressed size"
            )
            raise InvalidArgument(
                f"{what}: the uncompressed stream exceeds {rule} (a decompression bomb?)",
                hint="raise the bound with --max-size if this is expected",
            )

    def describe(self) -> str:
        if self.fixed is not None:
            return f"{self.fixed} bytes"
        return f"{self.floor >> 30} GiB or {self.ratio}x the compressed size, whichever is larger"


class TarScanner:
    """Reads member headers from uncompressed tar bytes fed in pieces; refuses sparse members and more
    than ``max_members`` members, and a stream that is not tar at all."""

    def __init__(self, what: str, max_members: int) -> None:
        self.what = what
        self.max_members = max_members
        self.members = 0
        self.ended = False  # a zero block was seen: what follows is padding for every reader
        self._pending = bytearray()  # a header, or an extended header's data, being collected
        self._collect = 0  # bytes of extended-header data still wanted in _pending (0: a header is)
        self._extended_type = b""
        self._extended_size = 0
        self._skip = 0  # member data (and padding) still to pass over
        self._next_size: int | None = None  # a PAX ``size`` record for the next member
        self._trailing = 0  # bytes after the end-of-archive block (tar pads to its record size)

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.ended:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                view = view[n:]
                continue
            want = (self._collect or _BLOCK) - len(self._pending)
            self._pending += view[:want]
            view = view[want:]
            if len(self._pending) < (self._collect or _BLOCK):
                return
            block, self._pending = bytes(self._pending), bytearray()
            if self._collect:
                self._collect = 0
                self._extended(block)
            else:
                self._header(block)
        if self.ended:
            self._trailing += len(view)
            if self._trailing > _MAX_TRAILING:
                raise InvalidArgument(
                    f"{self.what}: more than {_MAX_TRAILING} bytes after the end of the tar "
                    "(no reader looks at them; they only fill the disk)"
                )

    def finish(self) -> None:
        """The stream ended: it must have ended between members."""
        if self._skip or self._pending or self._collect:
            raise InvalidArgument(f"{self.what}: the tar stream is truncated")

    def _header(self, block: bytes) -> None:
        if block == bytes(_BLOCK):
            self.ended = True
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise InvalidArgument(
                f"{self.what}: not a tar stream after {self.members} members ({exc})"
            ) from exc
        size = info.size
        if size < 0:
            raise InvalidArgument(f"{self.what}: member {info.name!r} has a negative size")
        if info.type == tarfile.GNUTYPE_SPARSE:
            raise self._sparse(info.name)
        if info.type in _EXTENDED:
            if size > _MAX_EXTENDED:
                raise InvalidArgument(
                    f"{self.what}: an extended header of {size} bytes (at most {_MAX_EXTENDED})"
                )
            self._extended_type = info.type
            self._collect = _round(size)
            self._extended_size = size
            if not size:
                self._extended(b"")
            return
        self.members += 1
        if self.members > self.max_members:
            raise InvalidArgument(f"{self.what}: more than {self.max_members} members")
        if self._next_size is not None:
            size, self._next_size = self._next_size, None
        if info.type in _HEADER_ONLY or (info.type == tarfile.AREGTYPE and info.name.endswith("/")):
            size = 0
        self._skip = _round(size)

    def _extended(self, data: bytes) -> None:
        body = data[: self._extended_size]
        if self._extended_type not in _PAX:
            return  # a GNU long name or link target: nothing here bounds the stream
        for key, value in _pax_records(body, self.what):
            if key.startswith(b"GNU.sparse."):
                raise self._sparse("(PAX sparse member)")
            if key == b"size" and self._extended_type != tarfile.XGLTYPE:
                try:
                    self._next_size = int(value)
                except ValueError:
                    raise InvalidArgument(
                        f"{self.what}: a PAX size record {value!r} is not a number"
                    ) from None

    def _sparse(self, name: str) -> InvalidArgument:
        return InvalidArgument(
            f"{self.what}: member {name!r} is a sparse file; sparse members are refused "
            "(their apparent size can be far larger than the archive)"
        )


def _round(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _pax_records(body: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """``"<len> key=value\\n"`` records of a PAX extended header."""
    records = []
    pos = 0
    while pos < len(body):
        space = body.find(b" ", pos)
        try:
            length = int(body[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        if length <= 0 or pos + length > len(body):
            if body[pos:].strip(b"\0") == b"":
                break
            raise InvalidArgument(f"{what}: a malformed PAX header")
        key, _, value = body[space + 1 : pos + length - 1].partition(b"=")
        records.append((key, value))
        pos += length
    return records


class LayerCheck:
    """A layer (plain or gzip tar) checked as its bytes pass, before containerd applies it: it may not
    inflate beyond ``limit`` nor hold more than ``max_members`` members or a sparse one. Also computes
    its diff ID (the digest of the uncompressed tar). A zstd layer is passed unchecked: the standard
    library cannot inflate it (containerd's own applier is then the only reader)."""

    def __init__(
        self, what: str, limit: ExpansionLimit, max_members: int = LAYER_MAX_MEMBERS, *, diff_id: bool = True
    ) -> None:
        """``diff_id=False`` when the caller has no use for it (a pull: containerd's applier reports the
        diff ID and ctrd.unpack compares it with the config's), saving a hash of every inflated byte."""
        self.what = what
        self.limit = limit
        self.scanner = TarScanner(what, max_members)
        self.size = 0  # bytes fed (compressed, when the layer is)
        self.uncompressed = 0
        self.compressed: bool | None = None
        self.skipped = False  # a format this check cannot read (zstd)
        self.head = b""  # the first tar header, to check that this is a tar at all
        self._inflate: Any = None
        self._diff = hashlib.sha256() if diff_id else None
        self._open_member = False  # a gzip member begun and not finished: a truncated stream

    def feed(self, data: bytes) -> None:
        if not data or self.skipped:
            return
        if self.compressed is None:
            if data.startswith(_ZSTD_MAGIC):
                self.skipped = True
                return
            self.compressed = data[:2] == _GZIP_MAGIC
            if self.compressed:
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.size += len(data)
        if not self.compressed:
            self._plain(data)
            return
        try:
            while data:
                # Inflate in bounded steps, so a bomb is caught a step past its bound, not after it.
                self._plain(self._inflate.decompress(data, _INFLATE_STEP))
                # (at a member's end zlib leaves the rest in unused_data and a stale unconsumed_tail)
                while self._inflate.unconsumed_tail and not self._inflate.eof:
                    self._plain(self._inflate.decompress(self._inflate.unconsumed_tail, _INFLATE_STEP))
                self._open_member = not self._inflate.eof
                if self._inflate.eof:  # a multi-member gzip: the next member starts here
                    data = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    data = b""
        except zlib.error as exc:
            raise InvalidArgument(f"corrupt {self.what}: its gzip stream does not inflate ({exc})") from exc

    def _plain(self, data: bytes) -> None:
        self.uncompressed += len(data)
        if self.compressed:
            self.limit.check(self.uncompressed, self.size, self.what)
        self.scanner.feed(data)
        if self._diff is not None:
            self._diff.update(data)
        if len(self.head) < _BLOCK:
            self.head += data[: _BLOCK - len(self.head)]

    def finish(self) -> str:
        """The diff ID (empty when not computed), once the whole layer was fed; InvalidArgument if it is
        cut short or not a tar."""
        if self.skipped:
            return ""
        if self._open_member:
            raise InvalidArgument(f"{self.what}: the gzip stream is truncated")
        if not self.scanner.ended:
            self.scanner.finish()
        try:
            tarfile.TarInfo.frombuf(self.head, tarfile.ENCODING, "surrogateescape")
        except tarfile.HeaderError as exc:
            raise InvalidArgument(f"{self.what}: not a tar archive ({exc})") from exc
        return "" if self._diff is None else "sha256:" + self._diff.hexdigest()
