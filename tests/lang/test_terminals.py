"""The fast path's table of terminal patterns (grammar/terminals.py) is generated from pouch.lark as it is."""

from __future__ import annotations

from grammar import terminals


def test_the_terminal_table_matches_the_grammar() -> None:
    # After an edit of pouch.lark: `python -m grammar.terminals` writes the table again.
    assert terminals.current()
    with open(terminals.__file__, encoding="utf-8") as f:
        assert f.read() == terminals.generate()
