"""Fuzzing every command's flag parsing: random arguments against each declared command give a value or
a PouchError, never another exception.

tests/lang/test_properties.py fuzzes the language itself (random text, mutated programs); this one aims at
the command table: for each declared command, words drawn from its own flags (every spelling, with values
of every type, ``--flag=value``, clustered short flags, repeated and missing values), unknown flags and
hostile values (huge numbers, negative sizes, NUL-free control characters, long strings). Each source is
parsed and checked, and what checks is run with ``--dry-run`` managers (nothing reaches containerd; host
effects are limited to the shell builtins, of which ``sleep`` is only checked).
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrd.errors import PouchError
from pouchsh.commands import load
from pouchsh.dryrun import Recorder
from pouchsh.eval import ExitRequest
from pouchsh.scope import Runtime
from pouchsh.session import Session

TABLE = load()
COMMANDS = TABLE.commands()
CHECK_ONLY = {"sleep"}
#: examples per command: 60 in CI (~15 s); set POUCHSH_FUZZ_EXAMPLES for a long hunt
EXAMPLES = int(os.environ.get("POUCHSH_FUZZ_EXAMPLES", "60"))

VALUES = st.one_of(
    st.sampled_from([
        "0", "-1", "1", "99999999999999999999", "1.5", "-0.0", "nan", "inf", "64MiB", "-5MiB", "1e400", "10s",
        "-3s", "500ms", "1h", "0x10", "true", "false", "null", "", "-", "--", "a=b", "=", "a=", "8080:80",
        "127.0.0.1:5000:80/udp", "/", "/etc/passwd", "../../x", "vol:/data:ro", "type=bind,src=/,dst=/x",
        "SIGKILL", "SIGNOPE", "999", "always", "on-failure:3", "name=web", "label=a=b", "busybox", "a" * 300,
        "x:y:z:w", "[1 2]", "{a: 1}", "$x", "1..3", "é✓", "\t", "a b",
    ]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _quote(word: str) -> str:
    if word and all(c.isalnum() or c in "-_./:=,@%+" for c in word):
        return word
    if "'" not in word and "\n" not in word and "\r" not in word:
        return f"'{word}'"
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n") + '"'


@st.composite
def arguments(draw: st.DrawFn, cmd: object) -> list[str]:
    flags = list(cmd.flags)  # type: ignore[attr-defined]
    words: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9))
        if flags and kind <= 4:
            flag = draw(st.sampled_from(flags))
            spelling = draw(st.sampled_from(list(flag.spellings())))
            if flag.takes_value and draw(st.booleans()):
                value = draw(VALUES)
                words += [f"{spelling}={value}"] if spelling.startswith("--") and draw(st.booleans()) else [spelling, value]
            else:
                words.append(spelling)
        elif kind == 5:
            shorts = [f.short for f in flags if f.short]
            words.append("-" + "".join(draw(st.lists(st.sampled_from(shorts or ["z"]), min_size=1, max_size=4))))
        elif kind == 6:
            words.append(draw(st.sampled_from(["--nope", "-Z", "--help", "---x", "--=", "-"])))
        else:
            words.append(draw(VALUES))
    return words


def _session() -> Session:
    out = io.BytesIO()
    runtime = Runtime(managers_factory=lambda: Recorder(out), stdout=out, stderr=out, stdin=io.BytesIO(b"input\n"),
                      env={}, cwd="/", dry_run=True)
    return Session(runtime, TABLE)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.name)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_flags_give_a_value_or_a_pouch_error(cmd: object, data: st.DataObject) -> None:
    words = data.draw(arguments(cmd))
    source = " ".join([cmd.name, *map(_quote, words)])  # type: ignore[attr-defined]
    session = _session()
    try:
        checked = session.compile(source, "fuzz.pouch")
        if cmd.name not in CHECK_ONLY:  # type: ignore[attr-defined]
            session.execute(checked)
    except (PouchError, ExitRequest):
        pass
