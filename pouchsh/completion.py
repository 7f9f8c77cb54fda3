"""Completion at the prompt: commands, subcommands, flags, variables, fields, paths and live names.

`PouchCompleter` reads the text before the cursor, finds the command the cursor is in and what that
command's signature expects at this place, and offers candidates from three sources that are all cheap:
the command table, the live scope of the session, and a `NameSource` of live object names (the REPL's
source reads containerd's event-driven cache; nothing here makes a gRPC call). The REPL runs it in a
thread (``ThreadedCompleter``) all the same, so a slow source can never delay a keystroke.

Where the cursor is comes from the Pygments lexer, which already tells a command position from an
argument and follows brackets, strings and pipelines: the words of the current command are the words
since the last ``|``, ``;``, newline or opening bracket.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from pygments.token import Keyword, Operator, Punctuation, String, Whitespace

from grammar.vocabulary import vocabulary
from pouchsh.lexer import PouchLexer
from pouchsh.signature import Command, CommandTable, Flag, Param

__all__ = [
    "LIVE_KINDS",
    "CursorContext",
    "NameSource",
    "NoNames",
    "PouchCompleter",
    "StaticNames",
    "cursor_context",
]

#: Kinds of live object the REPL can name; a Param/Flag names one with ``type=`` or ``complete=``.
LIVE_KINDS = frozenset({"container", "image", "volume", "network", "namespace"})

_VARIABLE_AT_END = re.compile(r"\$([A-Za-z_]\w*)?((?:\.[\w-]*\??)*)$")
_WORD_AT_END = re.compile(r"[^\s|;()\[\]{}\"']*$")
_OPENERS = frozenset({"{", "(", "$(", "["})
_CLOSERS = frozenset({"}", ")", "]"})


class NameSource(Protocol):
    """Live names of one kind (``container`` ...), answered from memory: it is called per keystroke."""

    def names(self, kind: str) -> Sequence[str]: ...


class NoNames:
    """A source that knows no names (a script, or containerd not reachable yet)."""

    def names(self, kind: str) -> Sequence[str]:
        return ()


@dataclass
class StaticNames:
    """A source over fixed lists, for tests and for callers that already hold the names."""

    by_kind: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def names(self, kind: str) -> Sequence[str]:
        return self.by_kind.get(kind, ())


@dataclass(frozen=True)
class CursorContext:
    """Where the cursor is: the finished words of the current command and the word being typed."""

    words: tuple[str, ...]
    word: str
    in_string: bool = False
    #: the command starts a pipeline stage (after ``|`` or ``let x =``), where keywords cannot stand
    in_pipeline: bool = False


def cursor_context(text: str) -> CursorContext:
    """The command the end of ``text`` is in, from the lexer's view of it."""
    frames: list[_Frame] = [_Frame()]
    pending = ""  # the word being assembled (``--name`` ``=`` ``web`` arrive as three tokens)
    for _, token, value in PouchLexer().get_tokens_unprocessed(text):
        frame = frames[-1]
        if token in String.Double or token in String.Interpol:
            if value == "$(":
                frames.append(_Frame())
            elif value == '"':
                if frame.in_string:
                    frame.words.append('""')  # a finished string counts as an argument
                frame.in_string = not frame.in_string
            continue
        standalone_operator = token in Operator and not pending
        keyword = token in Keyword and token not in Keyword.Constant
        if not (
            token in Whitespace
            or token in Punctuation
            or keyword
            or standalone_operator
            or value in _OPENERS
            or value == "\\\n"
        ):
            pending += value
            continue
        if pending:
            frame.words.append(pending)
            pending = ""
        if value in _OPENERS or value == "{":
            frames.append(_Frame())
        elif value in _CLOSERS:
            if len(frames) > 1:
                frames.pop()
        elif keyword or standalone_operator or value in (";", "|") or "\n" in value and value != "\\\n":
            frame.words.clear()
            frame.in_pipeline = value == "|" or standalone_operator
    last = frames[-1]
    return CursorContext(tuple(last.words), pending, last.in_string, last.in_pipeline)


@dataclass
class _Frame:
    words: list[str] = field(default_factory=list)
    in_string: bool = False
    in_pipeline: bool = False


class PouchCompleter(Completer):
    """Completes pouch input from the command table, the session's scope and live names."""

    def __init__(
        self,
        commands: CommandTable,
        *,
        names: NameSource | None = None,
        scope: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.commands = commands
        self.names = names or NoNames()
        self.scope = scope or dict
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        variable = _VARIABLE_AT_END.search(before)
        if variable:
            yield from self._variables(variable.group(1) or "", variable.group(2))
            return
        ctx = cursor_context(before)
        if ctx.in_string:
            return
        if not ctx.words:
            yield from self._command_words(ctx.word, keywords=not ctx.in_pipeline)
            return
        if self.commands.is_prefix(" ".join(ctx.words)) and not self.commands.get(" ".join(ctx.words)):
            yield from self._subcommands(ctx.words, ctx.word)
            return
        matched = self.commands.match(list(ctx.words))
        if matched is None:
            if self.commands.is_prefix(" ".join(ctx.words)):
                yield from self._subcommands(ctx.words, ctx.word)
            return
        cmd, used = matched
        if used == len(ctx.words) and self.commands.is_prefix(" ".join(ctx.words)) and not ctx.word.startswith("-"):
            # ``image`` is a command prefix and maybe a command: offer ``image inspect`` too
            yield from self._subcommands(ctx.words, ctx.word)
        yield from self._arguments(cmd, list(ctx.words[used:]), ctx.word, complete_event)

    # -- command position ------------------------------------------------------------------------

    def _command_words(self, prefix: str, *, keywords: bool) -> Iterator[Completion]:
        seen: set[str] = set()
        for name in self.commands.names():
            first = name.split(" ", 1)[0]
            if first in seen or not first.startswith(prefix):
                continue
            seen.add(first)
            cmd = self.commands.get(first)
            meta = cmd.help if cmd is not None else "subcommands"
            yield Completion(first, -len(prefix), display_meta=meta)
        for keyword in vocabulary().statement_keywords if keywords else ():
            if keyword.startswith(prefix) and keyword not in seen:
                yield Completion(keyword, -len(prefix), display_meta="keyword")

    def _subcommands(self, words: Sequence[str], prefix: str) -> Iterator[Completion]:
        lead = " ".join(words) + " "
        seen: set[str] = set()
        for name in self.commands.names():
            if not name.startswith(lead):
                continue
            nxt = name[len(lead):].split(" ", 1)[0]
            if nxt in seen or not nxt.startswith(prefix):
                continue
            seen.add(nxt)
            cmd = self.commands.get(lead + nxt)
            yield Completion(nxt, -len(prefix), display_meta=cmd.help if cmd else "subcommands")

    # -- arguments -------------------------------------------------------------------------------

    def _arguments(
        self, cmd: Command, args: list[str], word: str, event: CompleteEvent
    ) -> Iterator[Completion]:
        if word.startswith("-") and "=" in word:
            spelling, _, value = word.partition("=")
            flag = cmd.flag(spelling)
            if flag is not None and flag.takes_value:
                yield from self._values(flag, value, event)
            return
        pending_flag = _flag_waiting_for_value(cmd, args)
        if pending_flag is not None:
            yield from self._values(pending_flag, word, event)
            return
        if word.startswith("-") and not _positional_only(cmd, args):
            yield from self._flags(cmd, args, word)
            return
        param = _param_at(cmd, args)
        if param is not None and not _names_a_new_object(cmd, param):
            yield from self._values(param, word, event)

    def _flags(self, cmd: Command, args: list[str], prefix: str) -> Iterator[Completion]:
        used = set(args)
        for flag in cmd.flags:
            if not flag.repeat and any(s in used for s in flag.spellings()):
                continue
            spelling = f"--{flag.name}"
            if prefix.startswith("--") or len(prefix) <= 1:
                if spelling.startswith(prefix):
                    yield Completion(spelling, -len(prefix), display_meta=_flag_meta(flag))
            elif flag.short and f"-{flag.short}".startswith(prefix):
                yield Completion(f"-{flag.short}", -len(prefix), display_meta=_flag_meta(flag))
        if "--help".startswith(prefix):
            yield Completion("--help", -len(prefix), display_meta="Show this command's help")

    def _values(self, spec: Param | Flag, prefix: str, event: CompleteEvent) -> Iterator[Completion]:
        if isinstance(spec, Flag) and spec.choices:
            candidates: Iterable[str] = spec.choices
            yield from _prefixed(candidates, prefix, spec.name)
            return
        kind = spec.complete or spec.type
        if kind in LIVE_KINDS:
            yield from _prefixed(self.names.names(kind), prefix, kind)
        elif kind == "path":
            for completion in self._paths.get_completions(Document(prefix), event):
                yield Completion(
                    prefix + completion.text if completion.start_position == 0 else completion.text,
                    -len(prefix) if completion.start_position == 0 else completion.start_position,
                    display=completion.display,
                    display_meta=completion.display_meta,
                )
        elif kind == "bool":
            yield from _prefixed(("true", "false"), prefix, "bool")

    # -- variables and fields --------------------------------------------------------------------

    def _variables(self, name: str, path: str) -> Iterator[Completion]:
        scope = self.scope()
        if not path:
            for var in sorted(set(scope) | {"env", "args", "status", "pouch"}):
                if var.startswith(name):
                    yield Completion("$" + var, -len(name) - 1, display_meta=_kind_meta(scope.get(var)))
            return
        if name not in scope and name != "env":
            return
        value: Any = dict(_environ()) if name == "env" else scope[name]
        *walk, partial = path.split(".")[1:]
        for part in walk:
            value = _field(value, part.rstrip("?"))
            if value is None:
                return
        for key in _fields_of(value):
            if key.startswith(partial):
                yield Completion(key, -len(partial), display_meta=_kind_meta(_field(value, key)))


def _prefixed(candidates: Iterable[str], prefix: str, meta: str) -> Iterator[Completion]:
    for candidate in sorted(candidates):
        if candidate.startswith(prefix):
            yield Completion(candidate, -len(prefix), display_meta=meta)


def _flag_meta(flag: Flag) -> str:
    kind = "" if flag.type == "switch" else f"<{flag.type}> "
    return f"{kind}{flag.help}".strip()


def _kind_meta(value: Any) -> str:
    from pouchsh.values import type_name

    return type_name(value)


def _environ() -> Mapping[str, str]:
    import os

    return os.environ


def _field(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        # a field of a table is that column (``$t.name`` is every name)
        return [row.get(key) for row in value if isinstance(row, dict)]
    return None


def _fields_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return [str(k) for k in value[0]]
        return [str(i) for i in range(min(len(value), 100))]
    return []


def _flag_waiting_for_value(cmd: Command, args: list[str]) -> Flag | None:
    """The flag whose value the cursor is at (``run --name |``), if any."""
    if not args or _positional_only(cmd, args):
        return None
    last = args[-1]
    if not last.startswith("-") or "=" in last:
        return None
    flag = cmd.flag(last)
    if flag is None and not last.startswith("--") and len(last) > 2:
        flag = cmd.flag("-" + last[-1])  # grouped switches ending in a short flag: ``-dp``
    return flag if flag is not None and flag.takes_value else None


def _positionals(cmd: Command, args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if not cmd.interspersed and out:
            out.append(arg)
            continue
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            if "=" not in arg:
                flag = cmd.flag(arg) or (cmd.flag("-" + arg[-1]) if not arg.startswith("--") else None)
                skip = flag is not None and flag.takes_value
            continue
        out.append(arg)
    return out


def _positional_only(cmd: Command, args: list[str]) -> bool:
    """True past the first positional of a command that stops flag parsing there (``run IMAGE ...``)."""
    return not cmd.interspersed and bool(_positionals(cmd, args))


def _param_at(cmd: Command, args: list[str]) -> Param | None:
    index = len(_positionals(cmd, args))
    for i, param in enumerate(cmd.params):
        if param.rest or i == index:
            return param
    return None


def _names_a_new_object(cmd: Command, param: Param) -> bool:
    """``volume create NAME``: the name is new, so existing names are no help."""
    return cmd.name.endswith(" create") and param is cmd.params[0]


def _is_number(word: str) -> bool:
    return bool(re.fullmatch(r"-\d+(\.\d+)?", word))

