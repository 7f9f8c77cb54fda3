"""The evaluator: walks a checked program and produces values.

Which values are shown: a pipeline statement's value that nothing captures is displayed at the top level
and inside the blocks of ``if``/``for``/``while``/``try`` there; inside a ``def`` every statement but the
last is displayed the same way (the last value is the def's result); inside a closure nothing is
displayed and the last value is the result.

A failing command stops the program unless a ``try`` catches it; the error keeps the span of the call
or statement that failed. Ctrl-C sets ``runtime.cancel``; every statement and loop turn checks it.

Ranges stay lazy (``IntRange``) and flow lazily through the commands that pull their input item by item
(``@pulls``: ``1..100000000 | where ... | first 3`` reads three items); a pipeline's leftover Lazy, a
command's input that it does not pull, and every argument are collected within the bound, so no value
grows past it (see pouchsh.values). The operators are total: on any two values they give a value or a
PouchError naming both kinds.
"""

from __future__ import annotations

import re
from typing import Any

from ctrd.errors import Interrupted, InvalidArgument, PouchError, PouchRuntimeError
from grammar.nodes import (
    Assign,
    Binary,
    Break,
    Closure,
    Continue,
    Def,
    Exit,
    External,
    For,
    If,
    Let,
    ListExpr,
    Literal,
    Not,
    Pipeline,
    Range,
    RecordExpr,
    Return,
    Source,
    Str,
    Sub,
    Transaction,
    Try,
    Var,
    While,
    Word,
)
from grammar.nodes import (
    Command as CallNode,
)
from pouchsh.check import Arg, Binding, Checked
from pouchsh.coerce import coerce
from pouchsh.errors import error_record
from pouchsh.scope import CallContext, ClosureValue, DefValue, Runtime, Scope
from pouchsh.signature import Flag, Param
from pouchsh.values import (
    Duration,
    IntRange,
    Lazy,
    Size,
    Stream,
    check_items,
    check_text,
    collect,
    parse_duration,
    parse_size,
    type_name,
)

__all__ = ["ExitRequest", "Interpreter", "to_text", "truthy"]


class ExitRequest(Exception):
    """``exit N``: unwinds everything; the command line exits with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def truthy(value: Any) -> bool:
    """Conditions: false, null, 0, "" and empty lists and records are false; everything else is true."""
    if isinstance(value, Stream):
        return True
    return bool(value)


def to_text(value: Any) -> str:
    """A value inside a string or as a host program's argument."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Size, Duration, int, float)):
        return str(value)
    from pouchsh.cells import inline

    text = inline(value)
    check_text(len(text))
    return text


class Interpreter:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.bindings: dict[int, Binding] = {}
        self.sourced: dict[int, Checked] = {}
        #: the arguments of the last call of each call node whose command has a ``show``, for `shown`
        self.shown_args: dict[int, tuple[CallNode, Any, dict[str, Any]]] = {}

    # -------------------------------------------------------------------------------------- programs

    def run(self, checked: Checked, scope: Scope, *, show: bool = True) -> Any:
        """Run a checked program in ``scope`` (the session's top scope); returns the last value when
        ``show`` is False (the REPL and ``eval`` use that)."""
        self.bindings.update(checked.bindings)
        self.sourced.update(checked.sourced)
        return self.block(checked.program.body, scope, show=show, want=not show, top=True)

    def block(self, stmts: tuple[Any, ...], scope: Scope, *, show: bool, want: bool, top: bool = False) -> Any:
        for s in stmts:
            if isinstance(s, Def):
                scope.defs[s.name] = DefValue(s, None, scope)
        result = None
        last = len(stmts) - 1
        cancel = self.rt.cancel
        for i, s in enumerate(stmts):
            if cancel.is_set():
                raise Interrupted("interrupted", span=s.span)
            if top:
                self.rt.statement_status = 0
            try:
                value = self.stmt(s, scope, show, want and i == last)
            except PouchError as e:
                raise e.with_span(s.span)
            if want and i == last:
                result = value
            elif show and value is not None:
                try:
                    self.rt.display(self.shown(s, value))
                except PouchError as e:  # a range too large to show (error[limit])
                    raise e.with_span(s.span)
        return result

    def shown(self, s: Any, value: Any) -> Any:
        """What a statement shows of its value: the last command's ``show`` (its view's table, the id
        ``run -d`` prints) when the statement ends in a call of a command that declares one; else the
        value. ``--json`` shows values as they are."""
        if self.rt.json_output or not isinstance(s, Pipeline):
            return value
        last = s.elements[-1]
        entry = self.shown_args.get(id(last)) if isinstance(last, CallNode) else None
        if entry is None or entry[0] is not last:  # none, or an id reused by a node made later
            return value
        return entry[1](value, entry[2])

    # -------------------------------------------------------------------------------------- statements

    def stmt(self, s: Any, scope: Scope, show: bool, want: bool) -> Any:
        if isinstance(s, Pipeline):
            return self.pipeline(s, scope)
        if isinstance(s, Let):
            scope.declare(s.name, self.pipeline(s.value, scope))
            return None
        if isinstance(s, Assign):
            value = self.pipeline(s.value, scope)
            if s.target.name == "env":
                self.rt.env[str(s.target.path[0].key)] = to_text(value)
            else:
                scope.assign(s.target.name, value)
            return None
        if isinstance(s, If):
            node: Any = s
            while isinstance(node, If):
                if truthy(self.expr(node.cond, scope)):
                    return self.block(node.then.body, Scope(scope), show=show, want=want)
                node = node.orelse
            if node is not None:
                return self.block(node.body, Scope(scope), show=show, want=want)
            return None
        if isinstance(s, For):
            self.for_loop(s, scope, show)
            return None
        if isinstance(s, While):
            while truthy(self.expr(s.cond, scope)):
                if self.rt.cancel.is_set():
                    raise Interrupted("interrupted", span=s.span)
                try:
                    self.block(s.body.body, Scope(scope), show=show, want=False)
                except _Break:
                    break
                except _Continue:
                    continue
            return None
        if isinstance(s, Def):
            return None
        if isinstance(s, Try):
            return self.try_stmt(s, scope, show, want)
        if isinstance(s, Transaction):
            from pouchsh.transaction import run_transaction

            return run_transaction(self.rt, lambda: self.block(s.body.body, Scope(scope), show=show, want=want))
        if isinstance(s, Return):
            raise _Return(None if s.value is None else self.pipeline(s.value, scope))
        if isinstance(s, Break):
            raise _Break()
        if isinstance(s, Continue):
            raise _Continue()
        if isinstance(s, Exit):
            code = 0 if s.code is None else coerce(self.expr(s.code, scope), "int")
            raise ExitRequest(code)
        if isinstance(s, Source):
            sub = self.sourced[id(s)]
            return self.block(sub.program.body, scope, show=show, want=False)
        raise TypeError(type(s).__name__)  # pragma: no cover

    def for_loop(self, s: For, scope: Scope, show: bool) -> None:
        items = self.expr(s.iterable, scope)
        if items is None:
            return
        if isinstance(items, dict):
            items = [{"key": k, "value": v} for k, v in items.items()]
        elif not isinstance(items, (list, tuple, Stream, IntRange)):
            raise InvalidArgument(f"`for` needs a list, range or stream, got {type_name(items)}",
                                  span=s.iterable.span)
        cancel = self.rt.cancel
        try:
            for item in items:
                if cancel.is_set():
                    raise Interrupted("interrupted", span=s.span)
                inner = Scope(scope)
                inner.declare(s.var, item)
                try:
                    self.block(s.body.body, inner, show=show, want=False)
                except _Break:
                    break
                except _Continue:
                    continue
        finally:
            if isinstance(items, Stream):
                items.close()

    def try_stmt(self, s: Try, scope: Scope, show: bool, want: bool) -> Any:
        try:
            return self.block(s.body.body, Scope(scope), show=show, want=want)
        except Interrupted:
            raise
        except PouchError as e:
            if s.handler is None:
                return None
            inner = Scope(scope)
            if s.catch_name:
                inner.declare(s.catch_name, error_record(e))
            return self.block(s.handler.body, inner, show=show, want=want)

    # -------------------------------------------------------------------------------------- pipelines

    def pipeline(self, p: Pipeline, scope: Scope) -> Any:
        value: Any = None
        piped = False
        for element in p.elements:
            if isinstance(element, CallNode):
                value = self.call(element, scope, value, piped)
            elif isinstance(element, External):
                value = self.external(element, scope, collect(value), piped)
            else:
                value = self.expr(element, scope)
            piped = True
        if isinstance(value, Lazy):
            try:
                return collect(value)
            except PouchError as e:
                raise e.with_span(p.span)
        return value

    def arg(self, a: Any, scope: Scope) -> Any:
        if isinstance(a, Arg):
            if a.node is None:
                return a.const
            value = self.expr(a.node, scope)
            try:
                value = collect(value)
            except PouchError as e:
                raise e.with_span(a.span)
            try:
                return coerce(value, a.type, a.choices)
            except InvalidArgument as e:
                e.message = f"{a.what} {e.message}" if a.what else e.message
                e.args = (e.message,)
                raise e.with_span(a.span)
        if isinstance(a, list):
            return [self.arg(x, scope) for x in a]
        return a

    def call(self, node: CallNode, scope: Scope, input: Any, piped: bool) -> Any:
        binding = self.bindings[id(node)]
        cmd = binding.command
        # A def's $in may hold a range as it is (a value like any other, walked as often as needed); a
        # Lazy is once-only, so it becomes a list there as for every command that does not pull.
        lazy = Lazy if binding.user is not None else (IntRange, Lazy)
        if isinstance(input, lazy) and not getattr(cmd.fn, "pulls_input", False):
            try:
                input = collect(input, f"{cmd.name}'s input")
            except PouchError as e:
                raise e.with_span(node.span)
        if binding.help:
            from pouchsh.helptext import format_help

            return format_help(cmd)
        kwargs = {dest: self.arg(a, scope) for dest, a in binding.args.items()}
        if self.rt.dry_run and cmd.secret_dests:
            # The dry-run recorder prints every argument; it must know which values it may not show.
            conceal = getattr(self.rt.managers, "conceal", None)
            if conceal is not None:
                conceal(kwargs[dest] for dest in cmd.secret_dests)
        if binding.user is not None:
            return self.call_def(node, binding, kwargs, scope, input)
        ctx = CallContext(self.rt, input, piped, self.call_value)
        if cmd.show is not None:
            self.shown_args[id(node)] = (node, cmd.show, kwargs)
        try:
            return cmd.fn(ctx, **kwargs)
        except PouchError as e:
            raise e.with_span(node.span)
        except KeyboardInterrupt:
            raise Interrupted("interrupted", span=node.span) from None
        except RecursionError:
            raise PouchRuntimeError("too deeply nested", span=node.span) from None
        except BrokenPipeError:
            raise  # the reader of our output went away: the command line ends quietly
        except Exception as e:
            if self.rt.dry_run:
                # The command's calls are printed; what it would make of their results is unknowable.
                return None
            raise PouchRuntimeError(f"{cmd.name}: internal error: {type(e).__name__}: {e}",
                                    span=node.span) from e

    def call_def(self, node: CallNode, binding: Binding, kwargs: dict[str, Any], scope: Scope, input: Any) -> Any:
        user = binding.user
        assert user is not None
        found = scope.find_def(user.node.name)
        home = found.scope if found is not None else scope
        inner = Scope(home)
        inner.declare("in", input)
        specs: tuple[Param | Flag, ...] = (*user.signature.params, *user.signature.flags)
        for spec in specs:
            value = kwargs.get(spec.dest)
            if spec.dest in user.defaults and (value is None or (getattr(spec, "rest", False) and value == [])):
                value = self.expr(user.defaults[spec.dest], home)
                if spec.type not in ("switch", "any"):
                    try:
                        value = coerce(value, spec.type)
                    except InvalidArgument as e:
                        raise e.with_span(user.defaults[spec.dest].span)
            inner.declare(spec.dest, value)
        try:
            return self.block(user.node.body.body, inner, show=True, want=True)
        except _Return as r:
            return r.value
        except RecursionError:
            raise PouchRuntimeError(f"`{user.node.name}` calls itself too deeply", span=node.span) from None

    def call_value(self, closure: Any, *args: Any) -> Any:
        """``ctx.call``: run a closure (or any callable value) with arguments."""
        if not callable(closure):
            raise InvalidArgument(f"expected a closure, got {type_name(closure)}")
        return closure(*args)

    def run_closure(self, c: ClosureValue, args: tuple[Any, ...]) -> Any:
        inner = Scope(c.scope)
        params = c.node.params or ("it",)
        for i, name in enumerate(params):
            inner.declare(name, args[i] if i < len(args) else None)
        try:
            return self.block(c.node.body.body, inner, show=False, want=True)
        except _Return as r:
            return r.value

    def external(self, node: External, scope: Scope, input: Any, piped: bool) -> Any:
        argv = [node.program]
        for a in node.args:
            value = self.expr(a, scope)
            if isinstance(value, list):
                argv.extend(to_text(v) for v in value)
            else:
                argv.append(to_text(value))
        if self.rt.dry_run:
            self.rt.stdout.write(("host: " + " ".join(argv) + "\n").encode())
            return ""
        from pouchsh.host import encode_input, run_host

        self.rt.settle()  # the program may look at containers (docker ps through pouchd, ctr)
        data = encode_input(input) if piped else None
        try:
            return run_host(argv, data, self.rt.cwd, self.rt.env, cancel=self.rt.cancel, stderr=self.rt.stderr)
        except PouchError as e:
            raise e.with_span(node.span)

    # -------------------------------------------------------------------------------------- expressions

    def expr(self, e: Any, scope: Scope) -> Any:
        if isinstance(e, Literal):
            if e.kind == "size":
                return Size(e.value)
            if e.kind == "duration":
                return Duration(e.value)
            return e.value
        if isinstance(e, Var):
            return self.var(e, scope)
        if isinstance(e, (Word, Str)):
            if len(e.parts) == 1 and isinstance(e.parts[0], str):
                return e.parts[0]
            text = "".join(p if isinstance(p, str) else to_text(self.part(p, scope)) for p in e.parts)
            check_text(len(text))
            return text
        if isinstance(e, Binary):
            return self.binary(e, scope)
        if isinstance(e, Sub):
            value = self.pipeline(e.pipeline, scope)
            return follow(value, e.path, e) if e.path else value
        if isinstance(e, ListExpr):
            # A range inside a list or record is made a list here, so only a bare value is ever lazy.
            return [collect(self.expr(x, scope)) for x in e.items]
        if isinstance(e, RecordExpr):
            return {k: collect(self.expr(v, scope)) for k, v in e.fields}
        if isinstance(e, Closure):
            return ClosureValue(e, scope, self.run_closure)
        if isinstance(e, Range):
            return self.range(e, scope)
        if isinstance(e, Not):
            return not truthy(self.expr(e.operand, scope))
        if isinstance(e, Pipeline):
            return self.pipeline(e, scope)
        if isinstance(e, (CallNode, External)):
            return self.pipeline(Pipeline(e.span, (e,)), scope)
        raise TypeError(type(e).__name__)  # pragma: no cover

    def part(self, p: Any, scope: Scope) -> Any:
        return self.pipeline(p, scope) if isinstance(p, Pipeline) else self.expr(p, scope)

    def var(self, e: Var, scope: Scope) -> Any:
        name = e.name
        path = e.path
        if name == "env":
            if not path:
                return dict(self.rt.env)
            key = path[0].key
            if isinstance(key, str) and key in self.rt.env:
                value: Any = self.rt.env[key]
            elif path[0].optional:
                return None
            else:
                raise PouchRuntimeError(f"environment variable `{key}` is not set", span=e.span)
            return follow(value, path[1:], e)
        if name == "args":
            value = self.rt.args
        elif name == "status":
            value = self.rt.status
        elif name == "pouch":
            value = self.rt.facts()
        else:
            try:
                value = scope.lookup(name)
            except KeyError:
                raise PouchRuntimeError(f"undefined variable `${name}`", span=e.span) from None
        return follow(value, path, e) if path else value

    def range(self, e: Range, scope: Scope) -> IntRange:
        lo, hi = self.expr(e.lo, scope), self.expr(e.hi, scope)
        for v, node in ((lo, e.lo), (hi, e.hi)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidArgument(f"a range needs ints, got {type_name(v)}", span=node.span)
        # An end before the start is an empty range (`for i in 1..$n` with $n = 0 runs no turn).
        return IntRange(int(lo), int(hi))

    def binary(self, e: Binary, scope: Scope) -> Any:
        op = e.op
        if op == "and":
            return truthy(self.expr(e.left, scope)) and truthy(self.expr(e.right, scope))
        if op == "or":
            return truthy(self.expr(e.left, scope)) or truthy(self.expr(e.right, scope))
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        try:
            return operate(op, left, right)
        except PouchError as err:
            raise err.with_span(e.op_span)


def follow(value: Any, path: tuple[Any, ...], node: Any) -> Any:
    """``$x.a.0.b?``: fields of records, items of lists, a column of a table."""
    for m in path:
        key = m.key
        if value is None and m.optional:
            return None
        if isinstance(value, IntRange) and isinstance(key, int):
            if -value.size <= key < value.size:
                value = value.range[key]
                continue
            if m.optional:
                return None
            raise PouchRuntimeError(f"index {key} is out of range (the range has {value.size} items)",
                                    span=node.span)
        if isinstance(value, Stream):
            try:
                value = collect(value)
            except PouchError as e:
                raise e.with_span(node.span)
        if isinstance(value, dict):
            if key in value or (isinstance(key, int) and str(key) in value):
                value = value[key] if key in value else value[str(key)]
                continue
            try:
                value = value[key]  # a record that makes up missing fields (dry-run placeholders)
                continue
            except KeyError:
                pass
            if m.optional:
                return None
            raise PouchRuntimeError(f"no field `{key}` in the record", span=node.span,
                                    hint="fields: " + ", ".join(map(str, value)) if value else None)
        if isinstance(value, (list, tuple)):
            if isinstance(key, int):
                if -len(value) <= key < len(value):
                    value = value[key]
                    continue
                if m.optional:
                    return None
                raise PouchRuntimeError(f"index {key} is out of range (the list has {len(value)} items)",
                                        span=node.span)
            if all(isinstance(row, dict) for row in value):
                value = [row.get(key) for row in value]
                continue
        if m.optional:
            return None
        raise PouchRuntimeError(f"cannot take `{key}` of a {type_name(value)}", span=node.span)
    return value


_NUMBER = (int, float)


def _number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Let a size or duration meet a string written with units (``"1GB"``)."""
    if isinstance(left, Size) and isinstance(right, str):
        return left, _parse(parse_size, right)
    if isinstance(left, Duration) and isinstance(right, str):
        return left, _parse(parse_duration, right)
    if isinstance(right, Size) and isinstance(left, str):
        return _parse(parse_size, left), right
    if isinstance(right, Duration) and isinstance(left, str):
        return _parse(parse_duration, left), right
    return left, right


def _parse(fn: Any, text: str) -> Any:
    try:
        return fn(text)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def operate(op: str, left: Any, right: Any) -> Any:
    """A binary operator on two values (not ``and``/``or``, which short-circuit).

    Total: on any two values the result is a value or a PouchError (``invalid-argument`` naming both
    kinds, or ``limit``), never a Python exception."""
    try:
        return _operate(op, left, right)
    except (OverflowError, ValueError):
        # a float past its range turned into an int (`1e308 * 10` as a size), or an int too large for a
        # float (`10 ** 400 / 3` built by repeated multiplication)
        raise InvalidArgument(f"`{op}` on {type_name(left)} and {type_name(right)}: the result is out of range") \
            from None


def _operate(op: str, left: Any, right: Any) -> Any:
    if op in ("==", "!="):
        left, right = _align(left, right) if isinstance(left, str) != isinstance(right, str) else (left, right)
        equal = left == right
        return equal if op == "==" else not equal
    if op in ("<", "<=", ">", ">="):
        left, right = _align(left, right)
        if not ((_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))):
            raise InvalidArgument(f"cannot compare {type_name(left)} with {type_name(right)}")
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right
    if op in ("=~", "!~"):
        if not isinstance(right, str):
            raise InvalidArgument(f"`{op}` needs a pattern string on the right, got {type_name(right)}")
        try:
            found = re.search(right, to_text(left)) is not None
        except re.error as err:
            raise InvalidArgument(f"bad pattern {right!r}: {err}") from None
        return found if op == "=~" else not found
    if op == "in":
        return _contains(right, left)
    return _arith(op, left, right)


_SCALARS = (str, int, float)


def _contains(container: Any, item: Any) -> bool:
    """``item in container``: an item of a list or range, a key of a record, a substring of a string."""
    if isinstance(container, str):
        if not isinstance(item, _SCALARS):
            raise InvalidArgument(f"`in` looks for text in a string, got {type_name(item)} in string")
        return to_text(item) in container
    if isinstance(container, (list, tuple, IntRange)):
        return item in container
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise InvalidArgument(f"`in` on a record looks for a key, which is a string; "
                                  f"got {type_name(item)} in record")
        return item in container
    raise InvalidArgument(f"`in` needs a list, range, record or string on the right; "
                          f"got {type_name(item)} in {type_name(container)}")


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
            check_text(len(left) + len(right))
            return left + right
        if isinstance(left, (list, IntRange)) and isinstance(right, (list, IntRange)):
            check_items(_count(left) + _count(right))
            return collect(left) + collect(right)
        if isinstance(left, dict) and isinstance(right, dict):
            check_items(len(left) + len(right), "a record")
            return {**left, **right}
    if not (_number(left) and _number(right)):
        raise InvalidArgument(f"cannot apply `{op}` to {type_name(left)} and {type_name(right)}")
    sizes = isinstance(left, Size) or isinstance(right, Size)
    durations = isinstance(left, Duration) or isinstance(right, Duration)
    if sizes and durations:
        raise InvalidArgument(f"cannot apply `{op}` to {type_name(left)} and {type_name(right)}")
    unit: type[Size | Duration] | None = Size if sizes else Duration if durations else None
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        if unit is not None and isinstance(left, unit) and isinstance(right, unit):
            raise InvalidArgument(f"cannot multiply two {type_name(left)}s")
        result = left * right
    elif op == "/":
        if right == 0:
            raise InvalidArgument("division by zero")
        if unit is not None and isinstance(left, unit) and isinstance(right, unit):
            return left / right
        result = left / right
        if unit is not None or (isinstance(left, int) and isinstance(right, int) and result.is_integer()):
            result = int(result)
    elif op == "mod":
        if right == 0:
            raise InvalidArgument("division by zero")
        result = left % right
    else:
        raise InvalidArgument(f"unknown operator `{op}`")
    if unit is not None and isinstance(result, (int, float)):
        result = unit(int(result))
    if isinstance(result, int) and not _INT_MIN <= result <= _INT_MAX:
        # Python's ints have no end: a product squared in a loop would grow without bound (and
        # could no longer be printed); the language's ints are 64-bit, as Nushell's.
        raise InvalidArgument(f"`{op}` on {type_name(left)} and {type_name(right)}: the result is out of range "
                              f"(ints are 64-bit)")
    return result


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _count(items: list[Any] | IntRange) -> int:
    return items.size if isinstance(items, IntRange) else len(items)
