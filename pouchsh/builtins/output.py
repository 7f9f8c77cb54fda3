"""Making values and showing them: `echo`, `print`, `table`."""

from __future__ import annotations

from typing import Any

from pouchsh.render import display, render_table
from pouchsh.signature import Example, Flag, Param, command


@command(
    "echo",
    help="The value of its arguments: one argument is itself, several are a list",
    params=[Param("values", type="any", rest=True, required=False, help="Values")],
    examples=[
        Example("echo hello", "A string", output="hello"),
        Example("echo a b c | length", "Several arguments make a list", output="3"),
        Example("echo {name: web}", "A record", output="name  web"),
    ],
    category="shell",
)
def echo(ctx: Any, values: list[Any]) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


@command(
    "print",
    help="Display values now, each as a top-level value is displayed; the result is null",
    description="With no arguments it prints its input. Useful inside loops and closures.",
    params=[Param("values", type="any", rest=True, required=False, help="Values to print")],
    flags=[Flag("stderr", short="e", help="Print to standard error, as plain text")],
    examples=[
        Example("print hello", "A line", output="hello"),
        Example("for i in 1..2 { print $i }", "Inside a loop", output="1\n2"),
        Example("print -e 'warning: low disk'", "To standard error"),
    ],
    input="any",
    category="shell",
)
def print_(ctx: Any, values: list[Any], stderr: bool) -> None:
    shown = values if values else ([ctx.input] if ctx.has_input else [])
    for value in shown:
        if stderr:
            display(value, ctx.stderr, json=ctx.json_output)
        else:
            ctx.display(value)


@command(
    "table",
    help="The input drawn as a table (a record is one row, a plain list one `value` column), as text",
    description="On a terminal the table is drawn with styles; otherwise as aligned plain columns.",
    flags=[Flag("width", short="w", type="int", help="Width to draw in (terminal only; default: the terminal's)")],
    examples=[
        Example("[a b] | table", "A list as a one-column table", output="value\na\nb"),
        Example("echo {name: web, n: 1} | table", "A record as one row", output="name  n\nweb   1"),
    ],
    input="any",
    category="shell",
)
def table(ctx: Any, width: int | None) -> str:
    return render_table(ctx.input, terminal=ctx.is_terminal and not ctx.json_output, width=width)
