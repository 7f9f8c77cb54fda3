"""The Pygments lexer: keywords only where a statement allows them, and no input ever makes it fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, Text

from pouchsh.lexer import PouchLexer


def tokens(source: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in PouchLexer().get_tokens(source) if v.strip()]


def kind_of(source: str, word: str) -> object:
    return next(t for t, v in tokens(source) if v == word)


def test_keyword_at_statement_start_and_argument_elsewhere() -> None:
    assert kind_of("for i in 1..3 { echo $i }", "for") in Keyword
    assert kind_of("run --name for busybox", "for") is Text
    assert kind_of("run --name for busybox", "run") is Name.Function
    assert kind_of("run --name for busybox", "--name") is Name.Attribute


def test_else_and_catch_after_a_block() -> None:
    src = 'if $n > 2 { echo a } else if $n == 2 { echo b } else { echo c }'
    kinds = [t for t, v in tokens(src) if v in ("if", "else")]
    assert all(k in Keyword for k in kinds) and len(kinds) == 4
    assert kind_of("try { rm web } catch err { echo $err.message }", "catch") in Keyword
    assert kind_of("try { rm web } catch err { echo $err.message }", "err") is Name.Variable


def test_values() -> None:
    assert kind_of("run -m 64MiB busybox", "64MiB") is Number
    assert kind_of("sleep 500ms", "500ms") is Number
    assert kind_of("run -p 8080:80 busybox", "8080:80") is Text
    assert kind_of("echo $web.ports.0", "$web.ports.0") is Name.Variable
    assert kind_of("echo 'lit $x'", "'lit $x'") in String
    assert kind_of("ps # all of them", "# all of them") in Comment
    assert kind_of("ps -a | where status == exited", "==") is Operator


def test_interpolation_nests_a_pipeline() -> None:
    toks = tokens('echo "n=$(ps | length) at ${when}"')
    assert (String.Interpol, "$(") in toks
    assert (Name.Function, "length") in toks
    assert (String.Interpol, "${when}") in toks
    assert toks[-1] == (String.Double, '"')


def test_two_word_commands() -> None:
    toks = tokens("network create backend --subnet 10.5.0.0/24")
    assert toks[:2] == [(Name.Function, "network"), (Name.Function, "create")]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $#|;{}()[]\"'\\=-.:,1\n\t^"))))
def test_any_input_lexes_without_error_tokens_and_round_trips(source: str) -> None:
    out = list(PouchLexer(stripnl=False).get_tokens(source))
    assert not [v for t, v in out if t in Error]
    # Pygments adds a final newline when the input has none
    assert "".join(v for _, v in out).rstrip("\n") == source.rstrip("\n")


def test_registered_with_pygments() -> None:
    assert isinstance(get_lexer_by_name("pouch"), PouchLexer)
    assert isinstance(get_lexer_for_filename("deploy.pouch"), PouchLexer)


@pytest.mark.skipif(shutil.which("pygmentize", path=str(Path(sys.executable).parent)) is None,
                    reason="pygmentize is not installed in this venv")
def test_pygmentize_command_line(tmp_path: Path) -> None:
    script = tmp_path / "x.pouch"
    script.write_text("let n = 3\nfor i in 1..$n { run -d busybox sleep 1 }\n")
    pygmentize = str(Path(sys.executable).parent / "pygmentize")
    out = subprocess.run([pygmentize, "-l", "pouch", "-f", "html", str(script)],
                         capture_output=True, text=True, check=True).stdout
    assert '<span class="k">for</span>' in out


def test_the_highlighter_knows_the_grammars_keywords_and_operators() -> None:
    import grammar

    for keyword in grammar.STATEMENT_KEYWORDS:
        statement = {"for": "for i in 1..3 { }", "let": "let x = 1"}.get(keyword, f"{keyword} x")
        assert kind_of(statement, keyword) in Keyword, keyword
        assert kind_of(f"run --name {keyword} busybox", keyword) is Text, keyword
    for literal in grammar.LITERALS:
        assert kind_of(f"echo {literal}", literal) is Keyword.Constant
    for op in grammar.WORD_OPERATORS:
        assert kind_of(f"echo ($a {op} $b)", op) is Operator.Word
    for op in grammar.SYMBOL_OPERATORS:
        assert kind_of(f"echo ($a {op} $b)" if op != ".." else "echo 1..3", op) is Operator, op
