"""``${VAR}`` interpolation (the Compose Specification's): ``$$`` is a dollar; ``$VAR`` and ``${VAR}``
the value (empty when unset); ``${VAR:-default}`` / ``${VAR-default}`` a default when unset or empty /
unset; ``${VAR:?message}`` / ``${VAR?message}`` an error; ``${VAR:+other}`` / ``${VAR+other}`` the
other value when set. Defaults may hold interpolations themselves. Every result is bounded (a file
cannot grow a value without limit through nesting), and the .env file's syntax is read here too.
"""

from __future__ import annotations

import re

from ctrd.errors import InvalidArgument

__all__ = ["MAX_VALUE", "interpolate", "parse_env_file"]

MAX_VALUE = 64 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str], where: str, depth: int = 0) -> str:
    if "$" not in text:
        return text
    if depth > 8:
        raise InvalidArgument(f"{where}: interpolation nested too deep")
    out: list[str] = []
    size = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            size += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
            size += 1
        elif text.startswith("${", i):
            end = _closing(text, i + 2, where)
            piece = _braced(text[i + 2:end], env, where, depth)
            out.append(piece)
            size += len(piece)
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if m is None:
                raise InvalidArgument(f"{where}: invalid interpolation {text[i:i + 10]!r} (write $$ for a dollar)")
            piece = env.get(m.group(), "")
            out.append(piece)
            size += len(piece)
            i = m.end()
        if size > MAX_VALUE:
            raise InvalidArgument(f"{where}: an interpolated value is longer than {MAX_VALUE} characters")
    return "".join(out)


def _closing(text: str, start: int, where: str) -> int:
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise InvalidArgument(f"{where}: unclosed ${{ in {text[:40]!r}")


def _braced(inner: str, env: dict[str, str], where: str, depth: int) -> str:
    m = _NAME.match(inner)
    if m is None:
        raise InvalidArgument(f"{where}: invalid interpolation ${{{inner}}}")
    name, rest = m.group(), inner[m.end():]
    value = env.get(name)
    if not rest:
        return value or ""
    for op in (":-", "-", ":?", "?", ":+", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            unset = value is None or (op.startswith(":") and value == "")
            if op in (":-", "-"):
                return interpolate(arg, env, where, depth + 1) if unset else str(value)
            if op in (":?", "?"):
                if unset:
                    raise InvalidArgument(f"{where}: {name}: {interpolate(arg, env, where, depth + 1) or 'required'}")
                return str(value)
            return "" if unset else interpolate(arg, env, where, depth + 1)
    raise InvalidArgument(f"{where}: invalid interpolation ${{{inner}}}")


def parse_env_file(text: str, shown: str) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` allowed, ``#`` comments, '…' literal, "…" with \\n \\t \\" \\\\)."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").lstrip()
        key, eq, value = stripped.partition("=")
        key = key.strip()
        if not _NAME.fullmatch(key):
            raise InvalidArgument(f"{shown}:{number}: expected KEY=VALUE, got {line[:60]!r}")
        value = value.strip()
        if not eq:
            continue
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r'\\([nt"\\])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), value[1:-1])
        else:
            value = re.sub(r"\s+#.*$", "", value)
        out[key] = value
    return out
