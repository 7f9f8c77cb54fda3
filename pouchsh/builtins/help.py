"""`help`: the command table, read back to the user."""

from __future__ import annotations

from typing import Any

from ctrd.errors import NotFound
from pouchsh.signature import Example, Param, command
from pouchsh.values import LIMITS


def limits_help() -> str:
    """What `help` says about the bounds on values, with the bounds in force."""
    return (
        "Limits: a value that would be made larger than a bound fails with error[limit] instead of\n"
        f"exhausting memory. A list, record or collected range holds at most {LIMITS.items} items\n"
        f"(env POUCHSH_MAX_ITEMS); a string at most {LIMITS.text} characters (env POUCHSH_MAX_TEXT, a\n"
        "count or a size such as 64MiB). A range stays lazy through where, select, each, first, last,\n"
        "skip, length and for: `1..100000000 | first 3` reads three items."
    )


def variables_help() -> str:
    """What `help` says about the variables every script has."""
    return (
        "Built-in variables (read-only): $env.NAME the environment; $args the script's arguments; $status\n"
        "the exit status of the last container command; $in the value piped into a def; $it the item in a\n"
        "closure; $pouch.dry_run true under --dry-run (a script skips its checks of what containers print,\n"
        "which a dry run cannot know: `if not $pouch.dry_run and $n != 3 { exit 1 }`); $pouch.version."
    )


@command(
    "help",
    help="List the commands, or show one command's usage, flags and examples",
    params=[Param("command", rest=True, required=False, help="A command name, e.g. ps or network create")],
    examples=[
        Example("help", "Every command by category"),
        Example("help where", "How to use where"),
        Example("help network", "The network commands"),
    ],
    category="shell",
)
def help_(ctx: Any, command: list[str]) -> str:
    from pouchsh.commands import load
    from pouchsh.helptext import format_group, format_help, format_overview

    table = load()
    if not command:
        return format_overview(table) + "\n\n" + variables_help() + "\n\n" + limits_help()
    name = " ".join(command)
    found = table.match(list(command))
    if found is not None and found[1] == len(command):
        return format_help(found[0])
    if table.is_prefix(name):
        return format_group(table, name)
    guess = table.suggest(name)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    raise NotFound(f"help: no command named {name!r}{hint}")
