"""Every builtin declaration matches its function, and every one has help and examples."""

from __future__ import annotations

import inspect

import pytest

from pouchsh.commands import load
from pouchsh.helptext import format_help

BUILTIN_MODULES = ("pouchsh.builtins.",)
BUILTINS = [c for c in load().commands() if c.fn.__module__.startswith(BUILTIN_MODULES)]


def test_the_language_page_builtins_are_all_declared():
    names = {c.name for c in BUILTINS}
    expected = {
        "where", "select", "get", "sort-by", "first", "last", "skip", "length", "each", "par-each", "uniq",
        "group-by", "reverse", "lines", "echo", "print", "table", "sleep", "env", "cd", "help",
        "to json", "to yaml", "to csv", "from json",
    }
    assert expected <= names


@pytest.mark.parametrize("cmd", BUILTINS, ids=lambda c: c.name)
def test_function_takes_exactly_the_declared_arguments(cmd):
    params = list(inspect.signature(cmd.fn).parameters)
    assert params[0] == "ctx"
    assert sorted(params[1:]) == sorted([p.dest for p in cmd.params] + [f.dest for f in cmd.flags])


@pytest.mark.parametrize("cmd", BUILTINS, ids=lambda c: c.name)
def test_help_and_examples(cmd):
    assert cmd.help and cmd.examples
    text = format_help(cmd)
    for flag in cmd.flags:
        assert f"--{flag.name}" in text
    for example in cmd.examples:
        assert example.source in text
