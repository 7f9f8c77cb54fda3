"""grammar/parser.py hands Lark two replacements through its ``_plugins`` option (issue 17, start-up): a
contextual lexer that makes each state's lexer on first use, and an LALR parser that reads its table
with the rules looked up directly. Both must give what Lark's own classes give: the same table, and
for every parser state a lexer with the same terminals in the same order."""

from __future__ import annotations

from grammar import _lark, parser


def _plain() -> _lark.Lark:
    """Lark's own classes on the same generated tables, with our postlexer (its terminals are always
    accepted, so it shapes every state's lexer)."""
    return _lark.Lark_StandAlone(postlex=parser._parser().postlexer)


def test_the_parse_table_is_lark_s() -> None:
    ours = parser._parser().lark.parser.parser._parse_table
    theirs = _plain().parser.parser._parse_table
    assert type(parser._parser().lark.parser.parser).__name__ == "_LALR"
    assert ours.start_states == theirs.start_states and ours.end_states == theirs.end_states
    assert ours.states.keys() == theirs.states.keys()
    for state, actions in theirs.states.items():
        mine = ours.states[state]
        assert mine.keys() == actions.keys(), state
        for token, (action, arg) in actions.items():
            assert mine[token][0] is action, (state, token)
            assert mine[token][1] == arg, (state, token)
            if action is _lark.Reduce:  # the rule's options and order too, not only its expansion
                assert (mine[token][1].order, mine[token][1].options.keep_all_tokens) == (
                    arg.order, arg.options.keep_all_tokens)


def test_every_state_lexes_with_lark_s_terminals() -> None:
    ours = parser._parser().lark.parser.lexer.lexer  # inside Lark's PostLexConnector
    theirs = _plain().parser.lexer.lexer
    assert type(ours).__name__ == "_LazyContextualLexer"
    states = theirs.lexers.keys()
    for state in states:
        assert [t.name for t in ours.lexers[state].terminals] == [t.name for t in theirs.lexers[state].terminals]
    # states sharing a set of acceptable terminals share one lexer, as in Lark's
    assert len({id(ours.lexers[s]) for s in states}) == len({id(theirs.lexers[s]) for s in states})
    assert [t.name for t in ours.root_lexer.terminals] == [t.name for t in theirs.root_lexer.terminals]
