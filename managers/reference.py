"""Image references: parsing, validation and normalisation, following docker's distribution grammar.

    busybox                     → docker.io/library/busybox:latest
    me/app:1.2                  → docker.io/me/app:1.2
    localhost:5000/app          → localhost:5000/app:latest
    busybox@sha256:<64 hex>     → docker.io/library/busybox@sha256:<64 hex>

The first path component is a registry host when it holds a dot or a colon, is ``localhost``, or has an
upper-case letter (docker's rule); everything after it must be lower case. ``familiar`` gives the short
form docker prints (``busybox:latest``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctrd.errors import InvalidArgument

__all__ = [
    "DEFAULT_DOMAIN",
    "Reference",
    "familiar",
    "is_digest",
    "is_host",
    "normalize",
    "parse",
    "registry_host",
]

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
_NAME_MAX = 255

# Every pattern is ASCII-only and used with fullmatch: Python's ``\w`` and ``\d`` match any Unicode letter or
# digit, and ``$`` matches before a trailing newline, so neither may stand in for docker's grammar.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?", re.ASCII
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}", re.ASCII)
#: the characters a whole reference may hold at all (domain, path, tag and digest together)
_REFERENCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@[]")


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised reference. ``tag`` is None only when a digest pins the image."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """``docker.io/library/busybox``: the name without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """``busybox`` for docker.io/library/busybox, ``me/app`` for docker.io/me/app; others in full."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        return self.path.removeprefix("library/") if self.path.count("/") == 1 else self.path

    @property
    def object(self) -> str:
        """What a registry is asked for under ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> Reference:
        _check_chars(tag, "tag")
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(f"invalid tag {tag!r}: use letters, digits, '_', '.', '-' (at most 128)")
        return Reference(self.domain, self.path, tag, None)


def is_digest(text: str) -> bool:
    return bool(_DIGEST.fullmatch(text))


def _check_chars(text: str, what: str) -> None:
    """Name the first character no part of a reference may hold (non-ASCII, space, control...)."""
    for position, char in enumerate(text):
        if char not in _REFERENCE_CHARS:
            shown = f"{char!r} " if char.isprintable() and not char.isspace() else ""
            raise InvalidArgument(
                f"invalid {what} {text!r}: character {shown}(U+{ord(char):04X}) at position {position} "
                "is not "
                "allowed: a reference holds only ASCII letters, digits and . _ - / : @"
            )


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain = first
        if domain in _LEGACY_DOMAINS:
            domain = DEFAULT_DOMAIN
        return domain, rest
    return DEFAULT_DOMAIN, name


def parse(text: str) -> Reference:
    """Parse and normalise ``text``; a reference with neither tag nor digest gets ``:latest``.

    Raises InvalidArgument with the reason when ``text`` is not a valid reference.
    """
    raw = text.strip()
    if not raw:
        raise InvalidArgument("invalid reference: empty image name")
    _check_chars(raw, "reference")
    name, at, digest = raw.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise InvalidArgument(f"invalid reference {text!r}: digest must be sha256:<64 lower-case hex>")
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(
                f"invalid reference {text!r}: tag {tag!r} must be letters, digits, '_', '.', '-' (at most 128)"
            )
    if not name:
        raise InvalidArgument(f"invalid reference {text!r}: no repository name")
    domain, path = _split_domain(name)
    if not _DOMAIN.fullmatch(domain):
        raise InvalidArgument(f"invalid reference {text!r}: bad registry host {domain!r}")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            hint = " (repository names must be lower case)" if component.lower() != component else ""
            raise InvalidArgument(f"invalid reference {text!r}: bad path component {component!r}{hint}")
    if len(f"{domain}/{path}") > _NAME_MAX:
        raise InvalidArgument(f"invalid reference {text!r}: name longer than {_NAME_MAX} characters")
    if tag is None and not at:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest if at else None)


def normalize(text: str) -> str:
    """The full name containerd stores: ``busybox`` → ``docker.io/library/busybox:latest``."""
    return str(parse(text))


def familiar(name: str) -> str:
    """The short form docker prints: ``docker.io/library/busybox:latest`` → ``busybox:latest``.

    A name that is not a reference (an unnamed image's placeholder) is returned unchanged.
    """
    try:
        ref = parse(name)
    except InvalidArgument:
        return name
    text = str(ref)
    if ref.domain == DEFAULT_DOMAIN:
        text = text[len(DEFAULT_DOMAIN) + 1 :]
        if text.startswith("library/") and "/" not in ref.path[len("library/") :]:
            text = text[len("library/") :]
    return text


def is_host(text: str) -> bool:
    """Whether ``text`` is a registry host as a reference names one: ``NAME[:PORT]`` or ``[IPv6][:PORT]``."""
    return _DOMAIN.fullmatch(text) is not None


def registry_host(domain: str) -> str:
    """The host that serves ``domain``'s API: docker.io is served by registry-1.docker.io."""
    return "registry-1.docker.io" if domain == DEFAULT_DOMAIN else domain
