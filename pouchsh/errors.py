"""The language's errors (ParseError, CheckError) and the one way every error is shown to a user::

    error[check]: unknown command `rnu`
     --> deploy.pouch:3:1
      |
    3 | rnu busybox
      | ^^^
      = help: did you mean `run`?

A parse or check of one source reports every error it found: the first is raised and carries the rest in
``others``; :func:`format_error` prints them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ctrd.errors import PouchError

if TYPE_CHECKING:
    from pouchsh.masking import Secrets

__all__ = ["CheckError", "ParseError", "error_record", "format_error", "gather"]


class ParseError(PouchError):
    kind = "parse"


class CheckError(PouchError):
    kind = "check"


def gather(errors: list[PouchError]) -> PouchError:
    """The first error, carrying the rest in ``others``, for one ``raise``."""
    first = errors[0]
    first.others = errors[1:]  # type: ignore[attr-defined]
    return first


def _source_line(span: Any, sources: Mapping[str, str]) -> str | None:
    text = sources.get(span.file)
    if text is None:
        try:
            with open(span.file, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return None
    lines = text.split("\n")
    if not 1 <= span.line <= len(lines):
        return None
    return lines[span.line - 1].rstrip("\r")


def _one(err: PouchError, sources: Mapping[str, str], secrets: Secrets | None) -> str:
    out = [f"error[{err.kind}]: {err.message}"]
    span = err.span
    if span is not None and getattr(span, "file", None) is not None:
        gutter = " " * len(str(span.line))
        out.append(f"{gutter}--> {span.file}:{span.line}:{span.column}")
        line = _source_line(span, sources)
        if line is not None:
            shown = line.expandtabs(1)
            start = span.column - 1
            stop = span.end_column - 1 if span.end_line == span.line else len(shown)
            if secrets is not None:
                masked = secrets.mask_line(span.file, span.line, shown)
                shown, start, stop = masked.text, masked.index(start), masked.index(stop, end=True)
            width = max(1, min(stop - start, max(1, len(shown) - start)))
            out.append(f"{gutter} |")
            out.append(f"{span.line} | {shown}")
            out.append(f"{gutter} | {' ' * start}{'^' * width}")
        if err.hint:
            out.append(f"{gutter} = help: {err.hint}")
    elif err.hint:
        out.append(f"  = help: {err.hint}")
    return "\n".join(out)


def format_error(err: PouchError, sources: Mapping[str, str] | None = None, secrets: Secrets | None = None) -> str:
    """The text for ``err`` and any errors gathered with it, without a trailing newline; the values of
    secret flags that ``secrets`` knows are shown as ``***``."""
    sources = sources or {}
    errors: Iterable[PouchError] = [err, *getattr(err, "others", ())]
    return "\n\n".join(_one(e, sources, secrets) for e in errors)


def error_record(err: PouchError) -> dict[str, Any]:
    """An error as a value inside ``catch``: ``{kind, message, span: {file, line, column}}``."""
    span = err.span
    where = None
    if span is not None:
        where = {"file": span.file, "line": span.line, "column": span.column}
    return {"kind": err.kind, "message": err.message, "span": where}
