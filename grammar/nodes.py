"""The AST of the pouch language: frozen dataclasses, each with the :class:`Span` of source it came from.

Every node's first field is ``span``; spans never take part in equality, so two parses of the same program
printed differently compare equal. Bare words, strings and literals keep their source ``text`` so that the
printer reproduces them exactly and the checker can coerce a word to a flag's declared type from what the
user wrote (``--memory 64m`` is a size although ``64m`` alone reads as a duration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from typing import Any, NamedTuple

__all__ = [
    "Assign", "Binary", "Block", "Break", "Closure", "Command", "Continue", "Def", "Exit", "Expr",
    "External", "For", "If", "Let", "ListExpr", "Literal", "Member", "Node", "Not", "ParamDecl",
    "Pipeline", "Program", "Range", "RecordExpr", "Return", "Source", "Span", "Stmt", "Str", "Sub",
    "Transaction", "Try", "Var", "While", "Word", "maker",
]


class Span(NamedTuple):
    """A region of one source file. Lines and columns count from 1; offsets from 0, ``end`` exclusive.
    (A named tuple rather than a dataclass: the parser makes one per node, and this is the cheap kind.)"""

    file: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.file, self.start, other.end, self.line, self.column, other.end_line, other.end_column)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def _is_static(parts: tuple[Any, ...]) -> bool:
    # Most words are one literal part; the checker asks this of every argument.
    if len(parts) == 1:
        return type(parts[0]) is str
    return all(isinstance(p, str) for p in parts)


def _text_of(parts: tuple[Any, ...]) -> str:
    if len(parts) == 1 and type(parts[0]) is str:
        return parts[0]  # type: ignore[no-any-return]
    return "".join(p for p in parts if isinstance(p, str))


#: How every node class is declared. What ``dataclass(frozen=True)`` would generate per class by exec — a
#: compiled ``__init__``, ``__setattr__`` and ``__delattr__``, plus ``__eq__``, ``__hash__`` and ``__repr__`` —
#: is Node's, once for all of them (:func:`_finish` below), which makes this module, imported by every
#: script run, several times cheaper to import. The classes are frozen dataclasses all the same: assigning
#: a field raises FrozenInstanceError, ``__dataclass_params__.frozen`` is true, and ``fields``, ``replace``
#: and ``asdict`` work.
_dataclass = dataclass(slots=True, init=False, repr=False, eq=False)
_UNDOCUMENTED: set[str] = set()


def _node(cls: type) -> type:
    if not cls.__doc__:
        # dataclass would write the docstring from inspect.signature, which without an __init__ yet
        # takes the slow road; _finish writes the same text.
        _UNDOCUMENTED.add(cls.__qualname__)
        cls.__doc__ = cls.__qualname__
    return _dataclass(cls)


@_node
class Node:
    span: Span = field(compare=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list[Any]) -> None:
        for f, value in zip(fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _compared(self.__class__)
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _compared(self.__class__)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in _shown(self.__class__))
        return f"{self.__class__.__qualname__}({shown})"


_COMPARED: dict[type, tuple[str, ...]] = {}
_SHOWN: dict[type, tuple[str, ...]] = {}


def _compared(cls: type) -> tuple[str, ...]:
    names = _COMPARED.get(cls)
    if names is None:
        names = _COMPARED[cls] = tuple(f.name for f in fields(cls) if f.compare)
    return names


def _shown(cls: type) -> tuple[str, ...]:
    names = _SHOWN.get(cls)
    if names is None:
        names = _SHOWN[cls] = tuple(f.name for f in fields(cls) if f.repr)
    return names


# ---------------------------------------------------------------------------------------------- expressions


@_node
class Literal(Node):
    """A number, size, duration, ``true``, ``false`` or ``null``. ``kind`` is int, float, size, duration,
    bool or null; ``value`` is the Python value (bytes for a size, nanoseconds for a duration)."""

    kind: str
    value: Any
    text: str


class _Interpolated(Node):
    """What a bare word and a quoted string share: literal ``parts`` and expressions to interpolate."""

    __slots__ = ()
    parts: tuple[Any, ...]

    @property
    def is_static(self) -> bool:
        return _is_static(self.parts)

    @property
    def value(self) -> str:
        """The string when it interpolates nothing."""
        return _text_of(self.parts)


@_node
class Word(_Interpolated):
    """A bare word. ``parts`` are literal strings and, where the word holds ``$x`` or a quoted segment
    with one, the expressions to interpolate."""

    text: str
    parts: tuple[Any, ...]


@_node
class Str(_Interpolated):
    """A quoted string; ``text`` is the source including quotes, ``parts`` as for :class:`Word`."""

    text: str
    parts: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Member:
    """One step of a cell path: a field name or a list index; ``optional`` for ``field?``."""

    key: str | int
    optional: bool = False


@_node
class Var(Node):
    name: str
    path: tuple[Member, ...] = ()


@_node
class ListExpr(Node):
    items: tuple[Expr, ...]


@_node
class RecordExpr(Node):
    fields: tuple[tuple[str, Expr], ...]


@_node
class Closure(Node):
    params: tuple[str, ...]
    body: Block


@_node
class Sub(Node):
    """``(pipeline)`` used as a value, with a cell path when written ``(pipeline).field.0``."""

    pipeline: Pipeline
    path: tuple[Member, ...] = ()


@_node
class Range(Node):
    """``lo..hi``, inclusive."""

    lo: Expr
    hi: Expr


@_node
class Binary(Node):
    op: str
    left: Expr
    right: Expr
    op_span: Span = field(compare=False, repr=False)


@_node
class Not(Node):
    operand: Expr


@_node
class Command(Node):
    """A command call: its first word and the rest of its words, unbound. The checker resolves
    multi-word names (``network create``) and binds arguments to the command's signature."""

    name: Word
    args: tuple[Expr, ...]


@_node
class External(Node):
    """``^program args``: a host program."""

    program: str
    args: tuple[Expr, ...]


@_node
class Pipeline(Node):
    """``a | b | c``. The first element may be an expression; the rest are calls."""

    elements: tuple[Expr, ...]


Expr = Literal | Word | Str | Var | ListExpr | RecordExpr | Closure | Sub | Range | Binary | Not | Command | External

# ---------------------------------------------------------------------------------------------- statements


@_node
class Block(Node):
    body: tuple[Stmt, ...]


@_node
class Let(Node):
    name: str
    value: Pipeline
    name_span: Span = field(compare=False, repr=False)


@_node
class Assign(Node):
    target: Var
    value: Pipeline


@_node
class If(Node):
    cond: Expr
    then: Block
    orelse: Block | If | None


@_node
class For(Node):
    var: str
    iterable: Expr
    body: Block


@_node
class While(Node):
    cond: Expr
    body: Block


@_node
class ParamDecl(Node):
    """A parameter of a ``def``: ``kind`` is ``param`` (``name``, ``name?``), ``flag`` (``--name(-n)``)
    or ``rest`` (``...name``). ``type`` is None when not written."""

    kind: str
    name: str
    type: str | None = None
    default: Expr | None = None
    optional: bool = False
    short: str | None = None


@_node
class Def(Node):
    name: str
    params: tuple[ParamDecl, ...]
    body: Block


@_node
class Try(Node):
    body: Block
    catch_name: str | None
    handler: Block | None


@_node
class Transaction(Node):
    body: Block


@_node
class Return(Node):
    value: Pipeline | None


@_node
class Break(Node):
    pass


@_node
class Continue(Node):
    pass


@_node
class Exit(Node):
    code: Expr | None


@_node
class Source(Node):
    path: Word | Str


Stmt = Let | Assign | If | For | While | Def | Try | Transaction | Return | Break | Continue | Exit | Source | Pipeline


@_node
class Program(Node):
    body: tuple[Stmt, ...]
    file: str = field(default="<input>", compare=False)
    text: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, repr=False, eq=False)
class _Frozen:
    """Only for its ``__dataclass_params__``: those of a frozen dataclass declared like the nodes."""


def _template(arity: int) -> Callable[..., tuple[Callable[..., Any], Callable[..., Any]]]:
    """For classes of ``arity`` fields: a function of (class, one setter per field) returning the class's
    ``__init__`` and its maker, with parameters named ``a0``, ``a1``... until :func:`_finish` renames them.
    Compiled once per arity, not once per class (compiling was two fifths of importing the grammar)."""
    found = _TEMPLATES.get(arity)
    if found is None:
        args = ", ".join(f"a{k}" for k in range(arity))
        stores = "".join(f"\n        s{k}(self, a{k})" for k in range(arity))
        setters = ", ".join(f"s{k}" for k in range(arity))
        source = (f"def template(cls, {setters}):\n"
                  f"    def __init__(self, {args}) -> None:{stores}\n"
                  f"    def make({args}):\n        self = new(cls){stores}\n        return self\n"
                  f"    return __init__, make\n")
        namespace: dict[str, Any] = {"new": object.__new__}
        exec(source, namespace)  # noqa: S102 - our own generated text, as dataclasses does
        found = _TEMPLATES[arity] = namespace["template"]
    return found


_TEMPLATES: dict[int, Callable[..., tuple[Callable[..., Any], Callable[..., Any]]]] = {}


def _finish(classes: list[type[Node]]) -> dict[type[Node], Callable[..., Any]]:
    """Give every node class its ``__init__`` and frozen dataclass parameters; return a maker per class.

    The ``__init__`` stores each field through its slot's descriptor: a frozen dataclass's calls
    ``object.__setattr__`` per field, which looks the attribute up first. A maker takes the same arguments
    and skips the class call and ``__init__`` altogether; the parser's builder, which makes most nodes, uses those."""
    makers = {}
    for cls in classes:
        found = fields(cls)
        names = tuple(f.name for f in found)
        init, make = _template(len(names))(cls, *(getattr(cls, n).__set__ for n in names))
        # the fields' names, so that keywords work (dataclasses.replace passes them)
        init.__code__ = init.__code__.replace(co_varnames=("self", *names))
        make.__code__ = make.__code__.replace(co_varnames=(*names, "self"))
        defaults = tuple(f.default for f in found if f.default is not MISSING) or None
        init.__defaults__ = make.__defaults__ = defaults
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
        init.__module__ = make.__module__ = __name__
        cls.__init__ = init  # type: ignore[misc]
        cls.__dataclass_params__ = _Frozen.__dataclass_params__  # type: ignore[attr-defined]
        if cls.__qualname__ in _UNDOCUMENTED:
            shown = ", ".join(f"{f.name}: {f.type!r}" + ("" if f.default is MISSING else f" = {f.default!r}")
                              for f in found)
            cls.__doc__ = f"{cls.__qualname__}({shown})"
        makers[cls] = make
    return makers


_MAKERS = _finish([
    Node, Literal, Word, Str, Var, ListExpr, RecordExpr, Closure, Sub, Range, Binary, Not, Command, External,
    Pipeline, Block, Let, Assign, If, For, While, ParamDecl, Def, Try, Transaction, Return, Break, Continue, Exit,
    Source, Program,
])


def maker(cls: type[Node]) -> Callable[..., Any]:
    """A function that makes a ``cls`` from the arguments its constructor takes, faster than the class call."""
    return _MAKERS[cls]
