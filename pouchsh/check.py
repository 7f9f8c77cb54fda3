"""The checker: everything that can be known about a program before it runs, checked before it runs.

It resolves each call against the command table (and the program's own ``def`` s), binds its words to
parameters and flags by docker's rules, coerces the arguments it can already see, and tracks variables
through scopes. Every error found is reported, not only the first; one error and nothing runs.

Its output, :class:`Checked`, is what the evaluator walks: the program plus a :class:`Binding` for every
call and the parsed programs of ``source`` statements.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import grammar
from ctrd.errors import InvalidArgument, PouchError
from grammar.nodes import (
    Assign,
    Binary,
    Block,
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
    Program,
    Range,
    RecordExpr,
    Return,
    Source,
    Span,
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
from pouchsh.coerce import STRING_TYPES, coerce
from pouchsh.errors import CheckError, ParseError, gather
from pouchsh.masking import Secrets
from pouchsh.signature import Command, CommandTable, Flag, Param, close_matches
from pouchsh.source_text import decode_source, shown_text

__all__ = [
    "BUILTIN_VARIABLES",
    "Arg",
    "Binding",
    "CheckScope",
    "Checked",
    "UserCommand",
    "check",
    "parse_source",
]

#: Variables every program has: the environment, the script's arguments, the last container's status,
#: and what pouchsh says about this run (``$pouch.dry_run``).
BUILTIN_VARIABLES = ("env", "args", "status", "pouch")
_DEF_TYPES = {
    "string": "string", "str": "string", "int": "int", "float": "float", "number": "number", "bool": "bool",
    "size": "size", "filesize": "size", "duration": "duration", "list": "list", "table": "list",
    "record": "record", "closure": "closure", "any": "any", "path": "path",
}


class Arg(NamedTuple):
    """One bound argument: a constant (already coerced) or an expression to evaluate and coerce.
    (A named tuple: the checker makes one per argument, and this kind is the cheapest to make.)"""

    span: Span
    type: str
    choices: tuple[str, ...] = ()
    node: Any = None
    const: Any = None
    what: str = ""


@dataclass(frozen=True)
class UserCommand:
    """A ``def``: its node and the signature it declares, so calls to it bind like any command's."""

    node: Def
    signature: Command
    defaults: dict[str, Any]


@dataclass
class Binding:
    """A call bound to its command: ``args`` maps each dest to an Arg, a list of Args (rest parameters,
    repeatable flags) or a default value."""

    command: Command
    args: dict[str, Any]
    help: bool = False
    user: UserCommand | None = None


@dataclass
class Checked:
    program: Program
    bindings: dict[int, Binding] = field(default_factory=dict)
    sourced: dict[int, Checked] = field(default_factory=dict)


class CheckScope:
    """Names visible at one point: variables and defs, with the enclosing scope behind."""

    def __init__(self, parent: CheckScope | None = None) -> None:
        self.parent = parent
        self.vars: set[str] = set()
        self.defs: dict[str, UserCommand] = {}

    @classmethod
    def root(cls) -> CheckScope:
        scope = cls()
        scope.vars.update(BUILTIN_VARIABLES)
        return scope

    def has_var(self, name: str) -> bool:
        s: CheckScope | None = self
        while s is not None:
            if name in s.vars:
                return True
            s = s.parent
        return False

    def find_def(self, name: str) -> UserCommand | None:
        s: CheckScope | None = self
        while s is not None:
            if name in s.defs:
                return s.defs[name]
            s = s.parent
        return None

    def all_vars(self) -> set[str]:
        out: set[str] = set()
        s: CheckScope | None = self
        while s is not None:
            out |= s.vars
            s = s.parent
        return out

    def all_defs(self) -> set[str]:
        out: set[str] = set()
        s: CheckScope | None = self
        while s is not None:
            out |= set(s.defs)
            s = s.parent
        return out


class _Where(NamedTuple):
    """What surrounds a statement: loops, a def, a closure. (A named tuple: one is made per loop body,
    def and closure checked.)"""

    loop: bool = False
    def_: bool = False
    closure: bool = False
    file: str = "<input>"


def parse_source(text: str, filename: str) -> Program:
    """Parse, turning syntax errors into ParseErrors (all of them, gathered)."""
    try:
        return grammar.parse(text, filename)
    except grammar.SyntaxErrors as e:
        raise gather([ParseError(i.message, span=i.span, hint=i.hint) for i in e.issues]) from None


def check(program: Program, table: CommandTable, scope: CheckScope | None = None,
          sources: dict[str, str] | None = None, secrets: Secrets | None = None) -> Checked:
    """Check ``program``; raises the CheckErrors found (gathered). ``scope`` persists across REPL lines
    (it gains the program's top-level variables and defs); ``sources`` receives the text of every
    file that ``source`` reads, for error display; ``secrets`` the place of every secret flag's value,
    also when checking fails."""
    checker = _Checker(table, sources if sources is not None else {}, secrets)
    scope = scope or CheckScope.root()
    out = checker.program(program, scope, stack=())
    if checker.errors:
        raise gather(checker.errors)
    return out


class _Checker:
    def __init__(self, table: CommandTable, sources: dict[str, str], secrets: Secrets | None = None) -> None:
        self.table = table
        self.sources = sources
        self.secrets = secrets
        self.errors: list[PouchError] = []

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.errors.append(CheckError(message, span=span, hint=hint))

    # ------------------------------------------------------------------------------------------ blocks

    def program(self, program: Program, scope: CheckScope, stack: tuple[str, ...]) -> Checked:
        out = Checked(program)
        self.out = out
        self.stack = stack + (program.file,)
        self.block(program.body, scope, _Where(file=program.file), new_scope=False)
        return out

    def block(self, body: tuple[Any, ...], scope: CheckScope, where: _Where, new_scope: bool = True) -> None:
        inner = CheckScope(scope) if new_scope else scope
        for stmt in body:
            if isinstance(stmt, Def):
                self.declare_def(stmt, inner)
        for stmt in body:
            self.stmt(stmt, inner, where)

    def declare_def(self, node: Def, scope: CheckScope) -> None:
        if node.name in scope.defs and scope.defs[node.name].node is not node:
            self.error(f"`{node.name}` is defined twice in this block", node.span)
            return
        if node.name in grammar.KEYWORDS:
            self.error(f"`{node.name}` is a keyword and cannot name a command", node.span)
        params: list[Param] = []
        flags: list[Flag] = []
        defaults: dict[str, Any] = {}
        seen: set[str] = set()
        for p in node.params:
            typ = "any"
            if p.type is not None:
                if p.type not in _DEF_TYPES:
                    self.error(f"unknown type `{p.type}`", p.span, hint="types: " + ", ".join(sorted(set(_DEF_TYPES.values()))))
                else:
                    typ = _DEF_TYPES[p.type]
            dest = p.name.replace("-", "_")
            if dest in seen:
                self.error(f"`{p.name}` is declared twice", p.span)
                continue
            seen.add(dest)
            if p.default is not None:
                defaults[dest] = p.default
            if p.kind == "flag":
                flag_type = typ if p.type is not None and typ != "bool" else "switch"
                try:
                    flags.append(Flag(p.name, type=flag_type, short=p.short))
                except ValueError as e:
                    self.error(str(e), p.span)
            else:
                params.append(Param(p.name, type=typ, required=not p.optional and p.kind != "rest",
                                    rest=p.kind == "rest"))
        try:
            sig = Command(name=node.name, fn=_user_command, help=f"defined at {node.span}",
                          params=tuple(params), flags=tuple(flags), category="user", input="any")
        except ValueError as e:
            self.error(str(e), node.span)
            return
        scope.defs[node.name] = UserCommand(node, sig, defaults)

    # ------------------------------------------------------------------------------------------ statements

    def stmt(self, s: Any, scope: CheckScope, where: _Where) -> None:
        if isinstance(s, Pipeline):
            self.pipeline(s, scope, where)
        elif isinstance(s, Let):
            if s.name in grammar.KEYWORDS:
                self.error(f"`{s.name}` is a keyword and cannot name a variable", s.name_span)
            elif s.name in BUILTIN_VARIABLES:
                # reads of these names always see the built-in value, so a `let` of one would be ignored
                self.error(f"`${s.name}` is built in and cannot be declared", s.name_span)
            self.pipeline(s.value, scope, where)
            scope.vars.add(s.name)
        elif isinstance(s, Assign):
            self.assign(s, scope, where)
        elif isinstance(s, If):
            self.expr(s.cond, scope, where)
            self.block(s.then.body, scope, where)
            if isinstance(s.orelse, If):
                self.stmt(s.orelse, scope, where)
            elif s.orelse is not None:
                self.block(s.orelse.body, scope, where)
        elif isinstance(s, For):
            self._not_built_in(s.var, "a loop variable", s.span)
            self.expr(s.iterable, scope, where)
            inner = CheckScope(scope)
            inner.vars.add(s.var)
            self.block(s.body.body, inner, where._replace(loop=True))
        elif isinstance(s, While):
            self.expr(s.cond, scope, where)
            self.block(s.body.body, scope, where._replace(loop=True))
        elif isinstance(s, Def):
            self.def_body(s, scope, where)
        elif isinstance(s, Try):
            self.block(s.body.body, scope, where)
            if s.handler is not None:
                inner = CheckScope(scope)
                if s.catch_name:
                    self._not_built_in(s.catch_name, "a catch variable", s.span)
                    inner.vars.add(s.catch_name)
                self.block(s.handler.body, inner, where)
        elif isinstance(s, Transaction):
            self.block(s.body.body, scope, where)
        elif isinstance(s, Return):
            if not (where.def_ or where.closure):
                self.error("`return` outside a def", s.span)
            if s.value is not None:
                self.pipeline(s.value, scope, where)
        elif isinstance(s, (Break, Continue)):
            if not where.loop:
                word = "break" if isinstance(s, Break) else "continue"
                self.error(f"`{word}` outside a loop", s.span)
        elif isinstance(s, Exit):
            if s.code is not None:
                self.expr(s.code, scope, where)
        elif isinstance(s, Source):
            self.source(s, scope, where)
        else:  # pragma: no cover - the grammar makes no other statements
            raise TypeError(type(s).__name__)

    def assign(self, s: Assign, scope: CheckScope, where: _Where) -> None:
        target = s.target
        self.pipeline(s.value, scope, where)
        if target.name == "env":
            if len(target.path) != 1 or not isinstance(target.path[0].key, str):
                self.error("assign to one environment variable: `$env.NAME = value`", target.span)
            return
        if target.path:
            self.error("only a variable can be assigned, not a field", target.span,
                       hint=f"build a new value: `${target.name} = ...`")
            return
        if target.name in BUILTIN_VARIABLES:
            self.error(f"`${target.name}` cannot be assigned", target.span)
        elif not scope.has_var(target.name):
            self.error(f"cannot assign to `${target.name}`: it is not declared", target.span,
                       hint=f"declare it first: `let {target.name} = ...`")

    def _not_built_in(self, name: str, what: str, span: Any) -> None:
        """A name bound here would never be read: ``$env``, ``$args``, ``$status`` and ``$pouch`` always
        read the built-in value."""
        if name in BUILTIN_VARIABLES:
            self.error(f"`${name}` is built in and cannot be {what}", span)

    def def_body(self, s: Def, scope: CheckScope, where: _Where) -> None:
        user = scope.find_def(s.name)
        inner = CheckScope(scope)
        inner.vars.add("in")  # the value piped into the call
        for p in s.params:
            self._not_built_in(p.name.replace("-", "_"), "a parameter", s.span)
            inner.vars.add(p.name.replace("-", "_"))
            if p.default is not None:
                self.expr(p.default, scope, where)
        if user is not None:
            for name, default in user.defaults.items():
                if isinstance(default, (Word, Literal, Str)):
                    self.static_default(user, name, default)
        self.block(s.body.body, inner, _Where(def_=True, file=where.file))

    def static_default(self, user: UserCommand, dest: str, node: Any) -> None:
        specs: tuple[Param | Flag, ...] = (*user.signature.params, *user.signature.flags)
        for spec in specs:
            if spec.dest == dest and spec.type not in ("switch", "any"):
                value = _static(node, spec.type)
                if value is not _DYNAMIC:
                    try:
                        coerce(value, spec.type)
                    except InvalidArgument as e:
                        self.error(f"default of `{spec.name}`: {e.message}", node.span)

    def source(self, s: Source, scope: CheckScope, where: _Where) -> None:
        if not s.path.is_static:
            self.error("`source` needs a file name written out, not computed", s.path.span)
            return
        name = s.path.value
        base = os.path.dirname(where.file) if where.file and not where.file.startswith("<") else os.getcwd()
        path = os.path.normpath(os.path.join(base, os.path.expanduser(name)))
        if path in self.stack:
            self.error(f"`{name}` sources itself", s.span)
            return
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.error(f"cannot read `{name}`: {e.strerror or e}", s.path.span)
            return
        try:
            text = decode_source(data, path)
        except ParseError as e:
            self.sources[path] = shown_text(data)
            self.errors.append(e)
            return
        self.sources[path] = text
        try:
            program = parse_source(text, path)
        except ParseError as e:
            self.errors.extend([e, *getattr(e, "others", ())])
            return
        saved_out, saved_stack = self.out, self.stack
        sub = self.program(program, scope, self.stack)
        self.out, self.stack = saved_out, saved_stack
        self.out.sourced[id(s)] = sub
        # The sourced file's calls are bound in its own Checked; the evaluator reads both.
        self.out.bindings.update(sub.bindings)

    # ------------------------------------------------------------------------------------------ pipelines

    def pipeline(self, p: Pipeline, scope: CheckScope, where: _Where) -> None:
        for i, element in enumerate(p.elements):
            if isinstance(element, CallNode):
                self.call(element, scope, where, piped=i > 0)
            elif isinstance(element, External):
                for a in element.args:
                    self.expr(a, scope, where)
            else:
                self.expr(element, scope, where)

    def resolve(self, node: CallNode, scope: CheckScope) -> tuple[Command, int, UserCommand | None] | None:
        if not node.name.is_static:
            self.error("a command name cannot be computed", node.name.span,
                       hint="call a closure held in a variable with `do $closure` style commands, or use ^program")
            return None
        first = node.name.value
        user = scope.find_def(first)
        if user is not None:
            return user.signature, 1, user
        words = [first]
        if self.table.is_prefix(first):
            for a in node.args:
                if isinstance(a, Word) and a.is_static and not a.value.startswith("-"):
                    words.append(a.value)
                else:
                    break
                if len(words) >= 3:
                    break
        found = self.table.match(words)
        if found is not None:
            return found[0], found[1], None
        if self.table.is_prefix(first) and len(words) > 1:
            wanted = f"{first} {words[1]}"
            guess = close_matches(wanted, [n for n in self.table.names() if n.startswith(first + " ")],
                                              n=1, cutoff=0.5)
            span = node.name.span.to(node.args[0].span)
            self.error(f"unknown command `{wanted}`", span, hint=f"did you mean `{guess[0]}`?" if guess else
                       f"`help {first}` lists the `{first}` commands")
            return None
        if self.table.is_prefix(first):
            self.error(f"`{first}` needs a subcommand", node.name.span, hint=f"`help {first}` lists them")
            return None
        candidates = list(self.table.names()) + sorted(scope.all_defs())
        guess = close_matches(first, candidates, n=1, cutoff=0.6)
        hint = f"did you mean `{guess[0]}`?" if guess else "`help` lists the commands; run a host program with `^name`"
        self.error(f"unknown command `{first}`", node.name.span, hint=hint)
        return None

    def call(self, node: CallNode, scope: CheckScope, where: _Where, piped: bool) -> None:
        resolved = self.resolve(node, scope)
        if resolved is None:
            for a in node.args:
                self.expr(a, scope, where)
            return
        cmd, used, user = resolved
        binding = self.bind(node, cmd, node.args[used - 1:], scope, where)
        if binding is None:
            return
        binding.user = user
        if piped and cmd.input == "none" and not binding.help:
            self.error(f"`{cmd.name}` takes no input from a pipe", node.name.span)
        self.out.bindings[id(node)] = binding

    # ------------------------------------------------------------------------------------------ binding

    def bind(self, node: CallNode, cmd: Command, args: tuple[Any, ...], scope: CheckScope,
             where: _Where) -> Binding | None:
        errors_before = len(self.errors)
        self.scope, self.where = scope, where
        plan = _plan(cmd)
        values = plan.defaults.copy()
        for dest in plan.repeated:
            values[dest] = []
        positional: list[Any] = []
        help_wanted = False
        flags_on = True
        i = 0
        while i < len(args):
            a = args[i]
            i += 1
            text = _flag_text(a) if flags_on else None
            if text is None:
                positional.append(a)
                if not cmd.interspersed:
                    flags_on = False
                continue
            if text == "--":
                flags_on = False
                continue
            if text in ("--help", "-h"):
                help_wanted = True
                continue
            if text.startswith("--"):
                name, eq, _ = text.partition("=")
                flag = cmd.flag(name)
                if flag is None:
                    self.unknown_flag(cmd, name, a.span)
                    continue
                if eq:
                    value_node = _after_equals(a)
                elif flag.takes_value:
                    if i >= len(args):
                        self.error(f"`{cmd.name}`: flag `{name}` needs a value", a.span)
                        continue
                    value_node = args[i]
                    i += 1
                else:
                    value_node = None
                self.set_flag(cmd, flag, name, value_node, a.span, values)
                continue
            # one or more short flags: -d, -dit, -p8080:80, -p 8080:80
            letters = text[1:]
            j = 0
            while j < len(letters):
                spelling = "-" + letters[j]
                flag = cmd.flag(spelling)
                if flag is None:
                    self.unknown_flag(cmd, spelling if len(letters) > 1 else text, a.span)
                    break
                if flag.takes_value:
                    rest = letters[j + 1:]
                    if rest:
                        value_node = _suffix_word(a, len(text) - len(rest))
                    elif i < len(args):
                        value_node = args[i]
                        i += 1
                    else:
                        self.error(f"`{cmd.name}`: flag `{spelling}` needs a value", a.span)
                        break
                    self.set_flag(cmd, flag, spelling, value_node, a.span, values)
                    break
                self.set_flag(cmd, flag, spelling, None, a.span, values)
                j += 1
        if help_wanted:
            return Binding(cmd, {}, help=True)
        self.bind_positional(node, cmd, plan.needed_after, positional, values, scope, where)
        if len(self.errors) > errors_before:
            return None
        return Binding(cmd, values)

    def unknown_flag(self, cmd: Command, spelling: str, span: Span) -> None:
        guess = cmd.suggest_flag(spelling)
        hint = f"did you mean `{guess}`?" if guess else f"`{cmd.name} --help` lists its flags"
        self.error(f"`{cmd.name}`: unknown flag `{spelling}`", span, hint=hint)

    def set_flag(self, cmd: Command, flag: Flag, spelling: str, value_node: Any, span: Span,
                 values: dict[str, Any]) -> None:
        if flag.secret and self.secrets is not None and value_node is not None and not isinstance(value_node, Var):
            self.secrets.add(value_node.span)
        if not flag.takes_value:
            if value_node is None:
                arg: Any = True
            else:
                arg = self.make_arg(cmd, f"flag `{spelling}`", value_node, "bool", ())
        else:
            arg = self.make_arg(cmd, f"flag `{spelling}`", value_node, flag.type, flag.choices)
        if arg is None:
            return
        if flag.repeat:
            values[flag.dest].append(arg)
        else:
            values[flag.dest] = arg

    def make_arg(self, cmd: Command, what: str, node: Any, typ: str, choices: tuple[str, ...]) -> Arg | None:
        parts = node.parts if node.__class__ is Word else None
        if parts is not None and len(parts) == 1 and parts[0].__class__ is str:
            value = parts[0]  # a plain word, the commonest argument: nothing in it to check
        else:
            scope, where = self.scope, self.where
            self.expr(node, scope, where)
            self.scope, self.where = scope, where  # a nested call rebinds them
            value = _static(node, typ)
        if value is _DYNAMIC:
            return _new_tuple(Arg, (node.span, typ, choices, node, None, what))
        try:
            return _new_tuple(Arg, (node.span, typ, choices, None, coerce(value, typ, choices), what))
        except InvalidArgument as e:
            self.error(f"`{cmd.name}`: {what} {e.message}", node.span)
            return None

    def bind_positional(self, node: CallNode, cmd: Command, needed: tuple[int, ...], positional: list[Any],
                        values: dict[str, Any], scope: CheckScope, where: _Where) -> None:
        params = cmd.params
        k = 0
        for idx, p in enumerate(params):
            if p.rest:
                rest = [self.make_arg(cmd, f"argument `{p.name}`", a, p.type, ()) for a in positional[k:]]
                values[p.dest] = [r for r in rest if r is not None]
                k = len(positional)
                continue
            take = max(1, len(positional) - k - needed[idx])
            # A closure parameter takes a closure (or a variable holding one) as it is; anything else,
            # or several words, is a row condition (`where size > 1MiB`, `where $it =~ error`).
            if p.type == "closure" and k < len(positional) and not (
                isinstance(positional[k], Closure) or (isinstance(positional[k], Var) and take == 1)
            ):
                words = positional[k:k + take]
                closure = self.row_condition(cmd, words, scope, where)
                self.scope, self.where = scope, where
                k += take
                if closure is not None:
                    values[p.dest] = Arg(closure.span, "closure", node=closure, what=f"argument `{p.name}`")
                continue
            if k < len(positional):
                arg = self.make_arg(cmd, f"argument `{p.name}`", positional[k], p.type, ())
                k += 1
                if arg is not None:
                    values[p.dest] = arg
            elif p.required:
                self.error(f"`{cmd.name}`: missing argument `{p.name}`", node.span,
                           hint=f"usage: {cmd.usage}")
            else:
                values[p.dest] = p.default
        if k < len(positional):
            extra = positional[k]
            shown = extra.text if isinstance(extra, (Word, Str, Literal)) else "value"
            hint = f"usage: {cmd.usage}"
            if shown in ("&&", "||", ">", ">>", "2>&1", "<"):
                hint = "pouch has no `&&`, `||` or redirections: use separate statements, `try`, and `| save`-style commands"
            self.error(f"`{cmd.name}`: unexpected argument {_show(extra)}", extra.span, hint=hint)

    # ------------------------------------------------------------------------------------------ row conditions

    def row_condition(self, cmd: Command, words: list[Any], scope: CheckScope, where: _Where) -> Closure | None:
        """``status == running and size > 1MiB`` → ``{|it| $it.status == running and $it.size > 1MiB}``:
        the arguments' source read again by the grammar's row-condition rule."""
        first, last = words[0].span, words[-1].span
        text = self.out.program.text
        start, end = first.start, last.end
        if len(text) < end:  # a program made without its source: read the words as printed
            text = " ".join(grammar.to_source(w) for w in words)
            start, end = 0, len(text)
        try:
            expr = grammar.parse_condition(text, start, end, first.file)
        except grammar.SyntaxIssue as e:
            self.error(f"`{cmd.name}`: {e.message} in the condition", e.span,
                       hint="write a row condition as `field == value`, or a closure `{|x| ...}`")
            return None
        span = first.to(last)
        body = Block(span, (Pipeline(span, (expr,)),))
        closure = Closure(span, ("it",), body)
        self.expr(closure, scope, where)
        return closure

    # ------------------------------------------------------------------------------------------ expressions

    def expr(self, e: Any, scope: CheckScope, where: _Where) -> None:
        if isinstance(e, Var):
            if not scope.has_var(e.name):
                names = sorted(scope.all_vars())
                guess = close_matches(e.name, names, n=1, cutoff=0.6)
                hint = f"did you mean `${guess[0]}`?" if guess else None
                if e.name == "it":
                    hint = "`$it` is the item inside a closure without parameters"
                self.error(f"undefined variable `${e.name}`", e.span, hint=hint)
        elif isinstance(e, (Word, Str)):
            for part in e.parts:
                if not isinstance(part, str):
                    self.expr(part, scope, where)
        elif isinstance(e, Literal):
            pass
        elif isinstance(e, Pipeline):
            self.pipeline(e, scope, where)
        elif isinstance(e, Sub):
            self.pipeline(e.pipeline, scope, where)
        elif isinstance(e, ListExpr):
            for item in e.items:
                self.expr(item, scope, where)
        elif isinstance(e, RecordExpr):
            seen: set[str] = set()
            for key, value in e.fields:
                if key in seen:
                    self.error(f"record key `{key}` appears twice", value.span)
                seen.add(key)
                self.expr(value, scope, where)
        elif isinstance(e, Closure):
            inner = CheckScope(scope)
            for name in e.params:
                self._not_built_in(name, "a closure parameter", e.span)
            inner.vars.update(e.params or ("it",))
            self.block(e.body.body, inner, _Where(closure=True, file=where.file), new_scope=False)
        elif isinstance(e, Range):
            self.expr(e.lo, scope, where)
            self.expr(e.hi, scope, where)
        elif isinstance(e, Binary):
            self.expr(e.left, scope, where)
            self.expr(e.right, scope, where)
        elif isinstance(e, Not):
            self.expr(e.operand, scope, where)
        elif isinstance(e, (CallNode, External)):
            self.pipeline(Pipeline(e.span, (e,)), scope, where)
        else:  # pragma: no cover
            raise TypeError(type(e).__name__)


class _Plan(NamedTuple):
    """What binding a call to one command needs beyond the call, made once per command (run has dozens
    of flags): each flag's default by dest, the dests of repeatable flags (each call gets new lists for
    those), and for each parameter how many required ones follow it."""

    command: Command
    defaults: dict[str, Any]
    repeated: tuple[str, ...]
    needed_after: tuple[int, ...]


_PLANS: dict[int, _Plan] = {}


def _plan(cmd: Command) -> _Plan:
    found = _PLANS.get(id(cmd))
    if found is None or found.command is not cmd:
        params = cmd.params
        found = _PLANS[id(cmd)] = _Plan(
            cmd,
            {f.dest: (None if f.repeat else f.default_value()) for f in cmd.flags},
            tuple(f.dest for f in cmd.flags if f.repeat),
            tuple(sum(1 for q in params[i + 1:] if q.required and not q.rest) for i in range(len(params))),
        )
    return found


def _user_command(ctx: Any, **kwargs: Any) -> Any:  # pragma: no cover - the evaluator runs defs itself
    raise PouchError("a def is run by the evaluator")


def _show(node: Any) -> str:
    if isinstance(node, (Word, Str, Literal)):
        return f"`{node.text}`"
    return "value"


# ------------------------------------------------------------------------------------------ static values

_DYNAMIC = object()
_new_tuple = tuple.__new__  # an Arg without the named tuple's Python-level __new__ (one per argument)


def _static(node: Any, typ: str) -> Any:
    """The argument's value when it is known before the run (as text where the type reads text)."""
    if isinstance(node, (Word, Str)):
        return node.value if node.is_static else _DYNAMIC
    if isinstance(node, Literal):
        if typ in STRING_TYPES or (typ in ("size", "duration") and node.kind in ("size", "duration")):
            return node.text
        if typ == "any":
            return _DYNAMIC  # the evaluator gives sizes and durations their types
        return node.value
    return _DYNAMIC


def _flag_text(node: Any) -> str | None:
    """The flag a word spells (``--name``, ``--name=...``, ``-dit``), or None for a positional."""
    if not isinstance(node, Word):
        return None
    parts = node.parts
    if len(parts) == 1 and parts[0].__class__ is str:  # a plain word, most are
        text: str = parts[0]
        return text if text.startswith("-") and text != "-" else None
    head = parts[0] if parts else ""
    if not isinstance(head, str) or not head.startswith("-") or head == "-":
        return None
    if node.is_static:
        return node.value
    # --name=$x: the flag part must be written out before the `=`
    if head.startswith("--") and "=" in head:
        return head
    return None


def _after_equals(node: Word) -> Word:
    """The value part of ``--name=value`` as a word of its own (keeping any interpolation)."""
    head = node.parts[0]
    cut = head.index("=") + 1
    parts = ((head[cut:],) if head[cut:] else ()) + node.parts[1:]
    text = node.text[node.text.index("=") + 1:]
    return Word(_shift(node.span, node.text.index("=") + 1), text, parts or ("",))


def _suffix_word(node: Word, offset: int) -> Word:
    """``-p8080:80`` → the word ``8080:80``."""
    value = node.value[offset:]
    return Word(_shift(node.span, offset), value, (value,))


def _shift(span: Span, n: int) -> Span:
    return Span(span.file, span.start + n, span.end, span.line, span.column + n, span.end_line, span.end_column)
