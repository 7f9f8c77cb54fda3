"""Command declarations: each command is one declaration (signature, help, examples) bound to one function.

A module declares its commands with the ``@command`` decorator; the table is what the checker binds
calls against, what ``help`` prints, what the REPL completes from and what ``--dry-run`` walks::

    @command(
        "volume create",
        help="Create a volume",
        params=[Param("name", required=False, complete="volume", help="Volume name")],
        flags=[Flag("label", short="l", type="string", repeat=True, help="Set metadata (KEY=VALUE)")],
        examples=[Example("volume create data", "Create the volume data")],
        category="volume",
    )
    def volume_create(ctx: Context, name: str | None, label: list[str]) -> dict: ...

The bound function is called as ``fn(ctx, **arguments)``: one keyword per parameter and per flag, under
its ``dest`` name (``--stop-timeout`` → ``stop_timeout``), already coerced to the declared type; an
absent flag gets its default (``False`` for a switch, ``[]`` for a repeatable flag).

Flag spelling follows docker: ``--name web``, ``--name=web``, ``-d``, grouped switches ``-dit``, a short
flag's value attached or separate (``-p8080:80``, ``-p 8080:80``). With ``interspersed=False`` (run,
create, exec) flag parsing stops at the first positional, so ``run busybox ls -la`` passes ``-la`` on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import threading

__all__ = [
    "COMMANDS",
    "VALUE_TYPES",
    "Command",
    "CommandTable",
    "Context",
    "Example",
    "Flag",
    "Param",
    "close_matches",
    "command",
]

#: The declared types of parameters and flags. ``switch`` is a flag that takes no value.
#: The names container/image/volume/network/namespace are strings that the REPL completes live;
#: ``template`` is a docker ``--format`` template, parsed (and so checked) when the argument is coerced.
VALUE_TYPES = frozenset(
    {
        "any", "string", "int", "float", "number", "bool", "size", "duration", "list", "record",
        "closure", "path", "switch", "container", "image", "volume", "network", "namespace", "template",
    }
)


@dataclass(frozen=True)
class Param:
    """A positional parameter. ``rest`` takes every remaining positional as a list."""

    name: str
    type: str = "string"
    help: str = ""
    required: bool = True
    rest: bool = False
    default: Any = None
    complete: str | None = None

    def __post_init__(self) -> None:
        if self.type not in VALUE_TYPES or self.type == "switch":
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")

    @cached_property
    def dest(self) -> str:
        # cached: the checker asks for it at every call it binds
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class Flag:
    """A flag: ``--name VALUE`` or, with type ``switch``, a bare ``--detach``. A ``secret`` flag's value
    (a password) is never shown again: error excerpts and ``--dry-run`` print ``***`` for it, and the
    REPL keeps an input that gives one out of its history file (pouchsh/masking.py)."""

    name: str
    type: str = "switch"
    help: str = ""
    short: str | None = None
    default: Any = None
    repeat: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    complete: str | None = None
    dest_name: str | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if self.type not in VALUE_TYPES:
            raise ValueError(f"flag --{self.name}: unknown type {self.type!r}")
        if self.short is not None and len(self.short) != 1:
            raise ValueError(f"flag --{self.name}: short form must be one character")
        if self.secret and not self.takes_value:
            raise ValueError(f"flag --{self.name}: a switch has no value to keep secret")

    @cached_property
    def dest(self) -> str:
        return self.dest_name or self.name.replace("-", "_")

    @property
    def takes_value(self) -> bool:
        return self.type != "switch"

    def default_value(self) -> Any:
        if self.repeat:
            return list(self.default or [])
        if self.type == "switch":
            return bool(self.default)
        return self.default

    def spellings(self) -> Iterator[str]:
        yield f"--{self.name}"
        for alias in self.aliases:
            yield f"--{alias}"
        if self.short:
            yield f"-{self.short}"


@dataclass(frozen=True)
class Example:
    """A runnable example. ``output`` is its plain-text output where the example needs no containerd;
    the test suite runs those and compares, so the help cannot drift from the behaviour."""

    source: str
    description: str
    output: str | None = None


@dataclass(frozen=True)
class Command:
    name: str
    fn: Callable[..., Any]
    help: str
    params: tuple[Param, ...] = ()
    flags: tuple[Flag, ...] = ()
    examples: tuple[Example, ...] = ()
    aliases: tuple[str, ...] = ()
    input: str = "none"
    category: str = "shell"
    interspersed: bool = True
    description: str = ""
    #: what a statement shows of the result that nothing captured: ``show(value, arguments)`` gives the
    #: value to display instead (docker's table, the id ``run -d`` prints); pipes and ``--json`` see
    #: the result itself
    show: Callable[[Any, dict[str, Any]], Any] | None = None
    #: takes ``--context`` (added by ``command``, whose wrapper of ``fn`` runs it through pouchsh.fanout)
    fans_out: bool = False
    _by_spelling: Mapping[str, Flag] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.input not in ("none", "any", "list"):
            raise ValueError(f"{self.name}: input must be none, any or list")
        table: dict[str, Flag] = {}
        for flag in self.flags:
            for spelling in flag.spellings():
                if spelling in table or spelling in ("--help", "-h"):
                    raise ValueError(f"{self.name}: flag {spelling} declared twice")
                table[spelling] = flag
        object.__setattr__(self, "_by_spelling", table)
        rest = [p for p in self.params if p.rest]
        if len(rest) > 1 or (rest and rest[0] is not self.params[-1]):
            raise ValueError(f"{self.name}: only the last parameter may be rest")

    def flag(self, spelling: str) -> Flag | None:
        """The flag for ``--name``, ``-n`` or an alias; None when the command has no such flag."""
        return self._by_spelling.get(spelling)

    @property
    def secret_dests(self) -> tuple[str, ...]:
        """The argument names that hold secret flag values (``password`` for ``login``)."""
        return tuple(f.dest for f in self.flags if f.secret)

    def suggest_flag(self, spelling: str) -> str | None:
        close = close_matches(spelling, list(self._by_spelling), n=1, cutoff=0.6)
        return close[0] if close else None

    @property
    def usage(self) -> str:
        parts = [self.name]
        if self.flags:
            parts.append("[flags]")
        for p in self.params:
            label = f"{p.name}..." if p.rest else p.name
            parts.append(label if p.required else f"[{label}]")
        return " ".join(parts)


class CommandTable:
    """Every declared command, by each of its names; multi-word names (``network create``) included.

    A module's declarations may be *deferred*: the table knows their names and the module that declares
    them (pouchsh/commands/index.py) and imports it when one of them is first looked up. A script that
    runs ``version`` then imports one command module instead of fourteen (≈ 6-9 ms of every start,
    docs/PERFORMANCE.md). Whatever needs every command (``names``, ``commands``, ``suggest``) imports the
    rest first, so nothing but the moment of the import changes."""

    def __init__(self) -> None:
        self._by_name: dict[str, Command] = {}
        self._max_words = 1
        self._heads: set[str] = set()  # the first words of multi-word names
        self._deferred: dict[str, str] = {}  # name -> the module that declares it, not imported yet

    def add(self, cmd: Command) -> Command:
        for name in (cmd.name, *cmd.aliases):
            if name in self._by_name:
                raise ValueError(f"command {name!r} declared twice")
            self._by_name[name] = cmd
            self._deferred.pop(name, None)
            self._note_name(name)
        return cmd

    def defer(self, module: str, names: Iterable[str]) -> None:
        """Declare that importing ``module`` adds the commands ``names``; it is imported on first use."""
        for name in names:
            if name not in self._by_name:
                self._deferred[name] = module
                self._note_name(name)

    def _note_name(self, name: str) -> None:
        self._max_words = max(self._max_words, len(name.split()))
        if " " in name:
            self._heads.add(name.split()[0])

    def _import(self, module: str) -> None:
        # The import lock orders two threads importing the same module (the REPL's completer and its
        # warm-up); the module's declarations remove its names from _deferred as they are added.
        import importlib

        importlib.import_module(module)
        for name in [n for n, m in list(self._deferred.items()) if m == module]:
            self._deferred.pop(name, None)

    def _import_all(self) -> None:
        for module in sorted(set(self._deferred.values())):
            self._import(module)

    def get(self, name: str) -> Command | None:
        cmd = self._by_name.get(name)
        if cmd is None and name in self._deferred:
            self._import(self._deferred[name])
            cmd = self._by_name.get(name)
        return cmd

    def match(self, words: list[str]) -> tuple[Command, int] | None:
        """The command named by the longest prefix of ``words`` and how many words it took."""
        if words and words[0] not in self._heads:
            cmd = self.get(words[0])
            return None if cmd is None else (cmd, 1)
        for n in range(min(self._max_words, len(words)), 0, -1):
            cmd = self.get(" ".join(words[:n]))
            if cmd is not None:
                return cmd, n
        return None

    def is_prefix(self, word: str) -> bool:
        """True when ``word`` starts a multi-word command (``network``, ``container``)."""
        if " " not in word:
            return word in self._heads
        return any(name.startswith(word + " ") for name in (*self._by_name, *self._deferred))

    def names(self) -> list[str]:
        self._import_all()
        return sorted(self._by_name)

    def commands(self) -> list[Command]:
        """Each command once, in name order."""
        self._import_all()
        seen: dict[int, Command] = {}
        for name in sorted(self._by_name):
            seen.setdefault(id(self._by_name[name]), self._by_name[name])
        return list(seen.values())

    def suggest(self, name: str) -> str | None:
        self._import_all()
        close = close_matches(name, list(self._by_name), n=1, cutoff=0.6)
        return close[0] if close else None


#: The categories of the commands that reach one endpoint's managers: each takes ``--context`` and runs
#: through pouchsh.fanout when given it, or when its piped records name their contexts or namespaces.
FANS_OUT = frozenset({"container", "image", "volume", "network", "system", "pod"})
CONTEXT_FLAG = Flag(
    "context", type="string",
    help="Run on these contexts at once (NAME,NAME or all); each record gains a context field",
)
#: the listing commands that also take ``--all-namespaces`` (pouchsh.fanout)
NAMESPACE_WIDE = frozenset({"ps", "images"})
ALL_NAMESPACES_FLAG = Flag(
    "all-namespaces", short="A",
    help="Every containerd namespace's (k8s.io: what Kubernetes runs, read-only); records gain a namespace field",
)

#: The one table. Command modules register into it when ``pouchsh.commands`` is imported.
COMMANDS = CommandTable()


def command(
    name: str,
    *,
    help: str,
    params: list[Param] | tuple[Param, ...] = (),
    flags: list[Flag] | tuple[Flag, ...] = (),
    examples: list[Example] | tuple[Example, ...] = (),
    aliases: list[str] | tuple[str, ...] = (),
    input: str = "none",
    category: str = "shell",
    interspersed: bool = True,
    description: str = "",
    view: Any = None,
    show: Callable[[Any, dict[str, Any]], Any] | None = None,
    table: CommandTable = COMMANDS,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a command and bind it to the decorated function (which is returned unchanged).

    ``view`` (a pouchsh.views.View) is how a listing displays and what its ``--format`` means; ``show``
    is what a statement whose value nobody uses shows of it (the view's table when not given)."""

    fans_out = category in FANS_OUT and not any(f.name == "context" for f in flags)
    if fans_out:
        flags = (*flags, CONTEXT_FLAG)
        if name in NAMESPACE_WIDE:
            flags = (*flags, ALL_NAMESPACES_FLAG)

    def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
        # Fan-out first: --format then shows the records of every context together.
        run = _fanning_out(fn, name, category) if fans_out else fn
        if view is not None and any(f.name == "format" for f in flags):
            run = view.wrap(run)
        table.add(
            Command(
                name=name,
                fn=run,
                help=help,
                params=tuple(params),
                flags=tuple(flags),
                examples=tuple(examples),
                aliases=tuple(aliases),
                input=input,
                category=category,
                interspersed=interspersed,
                description=description,
                show=show or (view.show if view is not None else None),
                fans_out=fans_out,
            )
        )
        return fn

    return bind


def _fanning_out(fn: Callable[..., Any], name: str, category: str) -> Callable[..., Any]:
    """``fn`` taking ``context=`` (and ``all_namespaces=``) too: given one, or given piped records that
    name their contexts or namespaces, the call goes through pouchsh.fanout; otherwise ``fn`` is called as
    it is, once pouchsh.fanout.guard has let it act on its namespace (imported only for k8s.io)."""

    @functools.wraps(fn)
    def call(ctx: Any, *, context: str | None = None, all_namespaces: bool = False, **kwargs: Any) -> Any:
        if context is not None or all_namespaces or isinstance(ctx.input, (dict, list)):
            from pouchsh import fanout

            if context is not None or all_namespaces or fanout.routes(ctx.input, category):
                return fanout.call(fn, name, category, ctx, kwargs, context, all_namespaces)
        if getattr(ctx.unsettled_managers, "namespace", None) == "k8s.io":
            from pouchsh import fanout

            fanout.guard(name, category, "k8s.io", kwargs)
        return fn(ctx, **kwargs)

    return call


class Context(Protocol):
    """What a command function receives as ``ctx``; the evaluator implements it.

    ``managers`` is the ``managers.Managers`` facade, or under ``--dry-run`` a recorder with the same
    attributes that prints each call instead of making it. Commands reach containerd only through it,
    once the removals earlier ``run --rm`` statements left behind are done; ``unsettled_managers`` is the
    same without waiting for them (pouchsh.scope.CallContext).
    """

    input: Any  # the value piped in; None when the command starts its pipeline
    has_input: bool
    managers: Any
    unsettled_managers: Any
    env: dict[str, str]
    cwd: str
    stdin: IO[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    is_terminal: bool
    json_output: bool
    cancel: threading.Event  # set by Ctrl-C; long waits poll it

    def call(self, closure: Any, *args: Any) -> Any:
        """Run a closure value with arguments (the item for each/where/par-each)."""

    def display(self, value: Any) -> None:
        """Print a value now, the way a top-level statement's value is printed."""

    def set_status(self, code: int) -> None:
        """Set ``$status``: the exit status of the last container process run in the foreground."""


def close_matches(word: str, possibilities: list[str], n: int, cutoff: float) -> list[str]:
    """difflib's, imported only when a hint is wanted (an error), not by every start."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n, cutoff=cutoff)
