"""The rule for user labels, one for every object that carries them: containers, volumes and networks.

A user label may not sit in a namespace that containerd or pouchsh itself reads: ``containerd.io/``
and ``io.containerd.`` labels change containerd's garbage collection and restart monitor
(``containerd.io/gc.root`` pins content forever), and ``pouchsh/`` labels are pouchsh's own record of
a container. Volumes and networks live in pouchsh's stores, where containerd never sees them, and are
held to the same rule anyway, so a label that is refused on one object is refused on all of them and a
store never holds what a later feature might trust. The size limit is containerd's (``labels/validate.go``
at v1.6.20): key and value together at most 4096 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ctrd.errors import InvalidArgument

__all__ = ["MAX_LABEL_BYTES", "RESERVED_LABEL_PREFIXES", "validate_labels"]

RESERVED_LABEL_PREFIXES = ("pouchsh/", "containerd.io/", "io.containerd.")
MAX_LABEL_BYTES = 4096


def validate_labels(labels: Mapping[str, str]) -> None:
    """Raise InvalidArgument for the first label a user may not set; ``labels`` is left as it is."""
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgument(f"label {key!r}: keys and values are strings")
        if not key:
            raise InvalidArgument("a label needs a key (KEY=VALUE)")
        if "\x00" in key or "\x00" in value:
            raise InvalidArgument(f"label {key!r}: a NUL byte is not allowed")
        if key.startswith(RESERVED_LABEL_PREFIXES):
            raise InvalidArgument(f"label {key!r}: the prefixes {', '.join(RESERVED_LABEL_PREFIXES)} are reserved")
        if len(key.encode(errors="surrogatepass")) + len(value.encode(errors="surrogatepass")) > MAX_LABEL_BYTES:
            raise InvalidArgument(f"label {key[:64]!r}: key and value together exceed {MAX_LABEL_BYTES} bytes")
