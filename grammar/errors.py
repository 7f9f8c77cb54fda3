"""Syntax errors: each with the span it points at, and every one found in a source together."""

from __future__ import annotations

from grammar.nodes import Span

__all__ = ["SyntaxErrors", "SyntaxIssue"]


class SyntaxIssue(Exception):
    """One syntax error with its span."""

    def __init__(self, message: str, span: Span, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint


class SyntaxErrors(Exception):
    """Every syntax error found in one source, in order. ``issues`` is never empty."""

    def __init__(self, issues: list[SyntaxIssue]) -> None:
        super().__init__(issues[0].message)
        self.issues = issues
