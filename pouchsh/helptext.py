"""Help text, made from command declarations only: `help`, `help CMD` and `CMD --help` all print this."""

from __future__ import annotations

from pouchsh.cells import inline
from pouchsh.signature import Command, CommandTable, Flag, Param

__all__ = ["format_group", "format_help", "format_overview"]

# Categories in the order a container user looks for them; any other category follows, by name.
_CATEGORY_ORDER = (
    "container", "containers", "image", "images", "volume", "volumes", "network", "networks",
    "system", "filters", "formats", "shell",
)
_HINT = "Run `help COMMAND` or `COMMAND --help` for its flags and examples."
_WRAP = 100
_INPUT = {"list": "a table or list", "any": "any value"}


def format_help(cmd: Command) -> str:
    """Usage, description, every parameter and flag (short form, type, default, help) and the examples."""
    out = [f"{cmd.name} - {cmd.help}", "", "Usage:", f"  {cmd.usage}"]
    if cmd.description:
        import textwrap

        out += ["", *(textwrap.fill(para, width=_WRAP) for para in cmd.description.split("\n\n"))]
    if cmd.aliases:
        out += ["", "Aliases: " + ", ".join(cmd.aliases)]
    if cmd.input in _INPUT:
        out += ["", f"Input: {_INPUT[cmd.input]} from the pipe"]
    if cmd.params:
        out += ["", "Parameters:", *_columns([_param_row(p) for p in cmd.params])]
    flags = [_flag_row(f) for f in cmd.flags] + [("-h, --help", "Show this help")]
    out += ["", "Flags:", *_columns(flags)]
    if cmd.examples:
        out += ["", "Examples:"]
        for example in cmd.examples:
            out += [f"  {example.description}", f"  > {example.source}"]
            if example.output:
                out += [f"  {line}".rstrip() for line in example.output.splitlines()]
            out.append("")
        out.pop()
    return "\n".join(out)


def format_overview(table: CommandTable) -> str:
    """Every command once, grouped by category, with its one-line help; then how to learn more."""
    groups: dict[str, list[Command]] = {}
    for cmd in table.commands():
        groups.setdefault(cmd.category, []).append(cmd)
    out: list[str] = []
    for category in sorted(groups, key=_category_rank):
        cmds = sorted(groups[category], key=lambda c: c.name)
        out += [f"{category}:", *_columns([(c.name, c.help) for c in cmds]), ""]
    out += [format_keywords(), "", _HINT]
    return "\n".join(out)


def format_keywords() -> str:
    """The language's keywords and operators, as the grammar defines them."""
    from grammar.vocabulary import vocabulary

    words = vocabulary()
    statements = " ".join(words.statement_keywords)
    others = " ".join(sorted(words.keywords - set(words.statement_keywords) - set(words.word_operators)))
    return "\n".join([
        "language:",
        *_columns([("statements", statements), ("also", others),
                   ("operators", " ".join(words.operators))]),
        "  (keywords are keywords only where a statement or expression allows them; docs/LANGUAGE.md)",
    ])


def format_group(table: CommandTable, prefix: str) -> str:
    """The commands that start with ``prefix`` (``network`` → ``network create``, ``network ls`` ...)."""
    cmds = [c for c in table.commands() if c.name.startswith(prefix + " ")]
    return "\n".join([f"{prefix} commands:", *_columns([(c.name, c.help) for c in cmds]), "", _HINT])


def _category_rank(category: str) -> tuple[int, str]:
    if category in _CATEGORY_ORDER:
        return (_CATEGORY_ORDER.index(category), category)
    return (len(_CATEGORY_ORDER), category)


def _columns(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(left) for left, _ in rows), default=0)
    return [f"  {left.ljust(width)}  {right}".rstrip() for left, right in rows]


def _param_row(p: Param) -> tuple[str, str]:
    label = f"{p.name}..." if p.rest else p.name
    notes = [p.type]
    if not p.required:
        notes.append("optional")
    if p.default is not None:
        notes.append(f"default: {inline(p.default)}")
    return (label, f"{p.help}  ({', '.join(notes)})" if p.help else f"({', '.join(notes)})")


def _flag_row(f: Flag) -> tuple[str, str]:
    spelled = f"-{f.short}, --{f.name}" if f.short else f"    --{f.name}"
    if f.takes_value:
        spelled += f" <{f.type}>"
    notes = []
    if f.aliases:
        notes.append("also " + ", ".join(f"--{a}" for a in f.aliases))
    if f.choices:
        notes.append("one of " + ", ".join(f.choices))
    if f.repeat:
        notes.append("repeatable")
    if f.takes_value and f.default is not None and f.default != []:
        notes.append(f"default: {inline(f.default)}")
    text = f.help + (f"  ({'; '.join(notes)})" if notes else "")
    return (spelled, text)
