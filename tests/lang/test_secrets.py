"""A secret flag's value (``login -p``) is never shown again: not in an error's excerpt, whose carets
still point at the right word, not by ``--dry-run``; and the REPL can tell an input that holds one."""

from __future__ import annotations

import io

import pytest

from ctrd.errors import PouchError
from pouchsh.dryrun import Recorder
from pouchsh.masking import MaskedLine, Secrets
from pouchsh.scope import Runtime
from pouchsh.session import Session
from pouchsh.signature import Flag

SECRET = "S3cret-pw"


def _session(stdin: bytes = b"") -> tuple[Session, io.BytesIO]:
    out = io.BytesIO()
    runtime = Runtime(managers_factory=lambda: Recorder(out), stdout=out, stderr=out, stdin=io.BytesIO(stdin),
                      env={}, cwd="/", dry_run=True)
    return Session(runtime), out


def _error_text(source: str) -> str:
    session, _ = _session()
    with pytest.raises(PouchError) as info:
        session.execute(session.compile(source, "t.pouch"))
    return session.format(info.value)


def _excerpt(text: str) -> tuple[str, str]:
    """The source line and the caret line of a formatted error, without their gutters."""
    lines = text.split("\n")
    source = next(i for i, line in enumerate(lines) if line.startswith("1 | "))
    return lines[source][4:], lines[source + 1][4:]


@pytest.mark.parametrize(
    "source",
    [
        f"login -u ci -p {SECRET} localhost:5000 extra",
        f"login -u ci --password={SECRET} localhost:5000 extra",
        f"login -u ci --password '{SECRET}' localhost:5000 extra",
        f"login -u ci -p{SECRET} localhost:5000 extra",
    ],
)
def test_an_error_excerpt_masks_the_value_and_keeps_its_carets_on_the_word(source: str) -> None:
    text = _error_text(source)
    assert SECRET not in text
    line, carets = _excerpt(text)
    assert "***" in line
    start = carets.index("^")
    assert line[start:start + len(carets.strip())] == "extra"


def test_a_caret_on_the_secret_itself_covers_the_mask() -> None:
    masked = MaskedLine("login -p *** x", ((9, 18),))
    assert (masked.index(9), masked.index(18, end=True)) == (9, 12)
    assert masked.index(20) == 14


def test_a_source_that_does_not_parse_has_its_secret_guessed() -> None:
    text = _error_text(f"login -u ci -p {SECRET} localhost:5000 )")
    assert SECRET not in text and "-p ***" in text


def test_a_reused_file_name_forgets_the_old_places() -> None:
    session, _ = _session()
    with pytest.raises(PouchError):
        session.execute(session.compile(f"login -u ci -p {SECRET} a b", "same"))
    with pytest.raises(PouchError) as info:
        session.execute(session.compile("ps --bogus-flag-that-is-long", "same"))
    assert "***" not in session.format(info.value)


def test_only_secret_flags_are_masked() -> None:
    text = _error_text("run -p 8080:80 --bogus busybox")
    assert "8080:80" in text and "***" not in text


def test_a_variable_given_to_a_secret_flag_is_shown_as_written() -> None:
    text = _error_text("let pw = 'x'; login -u ci -p $pw a b")
    assert "-p $pw" in text


@pytest.mark.parametrize(
    ("source", "stdin"),
    [(f"login -u ci -p {SECRET} localhost:5000", b""), ("login -u ci --password-stdin localhost:5000", SECRET.encode() + b"\n")],
)
def test_dry_run_prints_stars_for_a_password(source: str, stdin: bytes) -> None:
    session, out = _session(stdin)
    session.execute(session.compile(source, "t.pouch"))
    shown = out.getvalue().decode()
    assert shown == "images.login('localhost:5000', 'ci', ***, insecure=False)\n<images.login.status>\n"


def test_the_recorder_masks_by_name_and_by_concealed_value() -> None:
    out = io.BytesIO()
    rec = Recorder(out)
    rec.conceal(["hunter2", 7, ""])
    rec.system.anything("a", ["hunter2"], token="t0k", opts={"client_secret": "x", "keep": "hunter2"}, password_stdin=True)
    assert out.getvalue().decode() == "system.anything('a', [***], token=***, opts={'client_secret': ***, 'keep': ***}, password_stdin=True)\n"


def test_holds_secret_tells_inputs_apart_and_leaves_the_session_alone() -> None:
    session, _ = _session()
    assert session.holds_secret(f"login -u ci -p {SECRET} r")
    assert session.holds_secret(f"let x = 1\nlogin -u ci --password={SECRET} r")
    assert session.holds_secret(f"login -u ci -p {SECRET} r )")  # does not parse: guessed
    assert not session.holds_secret("run -p 8080:80 busybox")
    assert not session.holds_secret("login -u ci --password-stdin r")
    assert not session.holds_secret("let y = 2")
    assert not session.check_scope.has_var("x") and not session.check_scope.has_var("y")


def test_guess_finds_each_spelling() -> None:
    from pouchsh.commands import load

    secrets = Secrets()
    secrets.guess("login -p a1 --password b2 --password=c3 -pd4 (\nrun -p 80:80", "f", load())
    line = "login -p a1 --password b2 --password=c3 -pd4 ("
    assert secrets.mask_line("f", 1, line).text == "login -p *** --password *** --password=*** -p*** ("
    assert secrets.mask_line("f", 2, "run -p 80:80").text == "run -p 80:80"


def test_a_switch_cannot_be_secret() -> None:
    with pytest.raises(ValueError, match="switch"):
        Flag("quiet", secret=True)
