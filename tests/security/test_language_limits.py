"""Script input cannot exhaust the host through the language: ranges and the filters over them stream,
and any value that would be made larger than its bound (POUCHSH_MAX_ITEMS, POUCHSH_MAX_TEXT) is refused
with ``error[limit]`` before it is built. Bytes that are not UTF-8, operators on values of any kinds and
Ctrl-C at any moment of start-up end in a clear error, never in an internal one or a traceback.

These run without containerd: nothing here reaches a manager.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lang.conftest import Result, run_cli

REPO = Path(__file__).resolve().parents[2]
#: the program a user runs (the venv's console script), else the module
_PROGRAM = [str(Path(sys.executable).with_name("pouchsh"))] if Path(sys.executable).with_name("pouchsh").exists() \
    else [sys.executable, "-m", "pouchsh"]
#: a streaming pipeline over a range of 10^8 or 10^9 items stays far below this (it took 3.9 GB before)
_MAX_RSS_BYTES = 200 * 1024**2
#: and ends in well under this, on a loaded two-core CI machine (it is about 0.1 s)
_MAX_SECONDS = 20.0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POUCHSH_MAX_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


#: Runs the program as its child and reports the child's own peak RSS. The test process cannot measure
#: that itself: Linux counts in a child's peak the memory of the process it was forked from, and pytest's
#: is large; this launcher is small. It also caps the child's address space, so that a regression to
#: building the whole range fails quickly instead of taking the machine's memory.
_LAUNCHER = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\n@child {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\\n")
"""


def _measured(source: str, **env: str) -> tuple[int, str, str, int, float]:
    """Run ``pouchsh -c source`` as its own process: (status, stdout, stderr, peak RSS bytes, seconds)."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *_PROGRAM, "-c", source], capture_output=True,
                          env=_env(**env), timeout=120, check=False)
    seconds = time.monotonic() - start
    err, _, report = proc.stderr.decode().rpartition("\n@child ")
    code, maxrss_kib = (int(x) for x in report.split())
    return code, proc.stdout.decode(), err, maxrss_kib * 1024, seconds


STREAMING = [
    ("1..100000000 | first 3", "1\n2\n3\n"),
    ("1..1000000000 | where {|x| $x mod 7 == 0 } | first 3", "7\n14\n21\n"),
    ("1..1000000000 | each {|x| $x * 2 } | skip 1 | first 2", "4\n6\n"),
    ("1..1000000000 | each {|x| {n: $x} } | select n | first 1 | get n", "1\n"),
    ("1..100000000 | last 2", "99999999\n100000000\n"),
    ("1..1000000000 | skip 999999990 | first 2", "999999991\n999999992\n"),
    ("1..1000000000 | length", "1000000000\n"),
    ("let r = 1..1000000000; $r | skip 5 | first 2; $r | first", "6\n7\n1\n"),
    ("for i in 1..1000000000 { if $i > 2 { break }; echo $i }", "1\n2\n"),
    ("echo (5 in 1..1000000000) ((1..1000000000).999)", "true\n1000\n"),
    ("1..99999999999999999999999 | last 1", "99999999999999999999999\n"),
]


@pytest.mark.parametrize(("source", "expected"), STREAMING, ids=[s for s, _ in STREAMING])
def test_a_range_streams_through_the_filters_in_bounded_memory(source: str, expected: str) -> None:
    code, out, err, rss, seconds = _measured(source)
    assert (code, out, err) == (0, expected, "")
    assert rss < _MAX_RSS_BYTES, f"peak RSS {rss / 1024**2:.0f} MiB"
    assert seconds < _MAX_SECONDS


MATERIALIZED = [
    "echo (1..1000000000)",
    "let r = 1..1000000000; echo $r",
    "1..1000000000",
    "1..1000000000 | sort-by",
    "1..1000000000 | reverse",
    "1..1000000000 | to json",
    "[0 (1..1000000000)]",
    "{a: (1..1000000000)}",
    "(1..1000000000) + [1]",
    "\"$(1..1000000000)\"",
    "1..1000000000 | par-each {|x| $x }",
    "1..1000000000 | uniq",
    "1..1000000000 | group-by {|x| $x mod 2 }",
    "let n = 1..1000000000 | first 1000000000",
]


@pytest.mark.parametrize("source", MATERIALIZED)
def test_a_range_that_must_be_built_past_the_bound_is_error_limit(source: str) -> None:
    code, out, err, rss, seconds = _measured(source)
    assert code == 1, err
    assert err.startswith("error[limit]: ") and "more than the 10000000 allowed" in err
    assert "POUCHSH_MAX_ITEMS" in err and "Traceback" not in err
    assert " --> <command>:1:" in err  # with the caret under the statement or command
    assert rss < _MAX_RSS_BYTES, f"peak RSS {rss / 1024**2:.0f} MiB"
    assert seconds < _MAX_SECONDS


def _in_process(source: str, **env: str) -> Result:
    return run_cli(["-c", source], env=env)


@pytest.mark.parametrize(
    "source",
    [
        # a lazy list collected at the end of its pipeline: refused at the first item past the bound
        "1..100000 | where {|x| true }",
        "let kept = (1..100000 | each {|x| $x })",
        "1..100000 | first 5000",
        "1..100000 | last 5000",
        "[1 2 3] + (1..998)",
        "let l = [1]; for i in 1..20 { $l = $l + $l }",
        "1..2000 | each {|x| {k: $x} } | where k > 0",
    ],
)
def test_any_list_past_the_bound_is_refused(source: str) -> None:
    result = _in_process(source, POUCHSH_MAX_ITEMS="1000")
    assert result.code == 1, result.err
    assert result.err.startswith("error[limit]: ") and "more than the 1000 allowed" in result.err


@pytest.mark.parametrize(
    "source",
    [
        'let s = "0123456789"; for i in 1..10 { $s = $s + $s }',
        'let s = "0123456789"; for i in 1..10 { $s = "$s$s" }',
        "1..200 | to json",
        "1..200 | to csv",
        "1..200 | to yaml",
    ],
)
def test_a_string_past_the_bound_is_refused(source: str) -> None:
    result = _in_process(source, POUCHSH_MAX_TEXT="500")
    assert result.code == 1, result.err
    assert result.err.startswith("error[limit]: ") and "more than the 500 allowed" in result.err
    assert "POUCHSH_MAX_TEXT" in result.err


def test_the_bounds_are_set_from_the_environment_and_checked() -> None:
    assert _in_process("1..1000 | length", POUCHSH_MAX_ITEMS="10").out == "1000\n"  # counting needs no list
    assert _in_process("echo (1..10)", POUCHSH_MAX_ITEMS="10").code == 0
    assert _in_process("echo (1..11)", POUCHSH_MAX_ITEMS="10").err.startswith("error[limit]")
    assert _in_process('echo "abcd"', POUCHSH_MAX_TEXT="4").code == 0
    assert _in_process('echo "ab$(echo cde)"', POUCHSH_MAX_TEXT="4").err.startswith("error[limit]")
    assert _in_process('echo "abcd"', POUCHSH_MAX_TEXT="1KiB").code == 0
    for name, value in [("POUCHSH_MAX_ITEMS", "many"), ("POUCHSH_MAX_ITEMS", "0"), ("POUCHSH_MAX_ITEMS", "-5"),
                        ("POUCHSH_MAX_TEXT", "lots"), ("POUCHSH_MAX_TEXT", "0")]:
        result = _in_process("echo 1", **{name: value})
        assert result.code == 2 and result.err.startswith(f"error: {name} must be"), result.err
    assert "POUCHSH_MAX_ITEMS" in _in_process("help").out
    assert "POUCHSH_MAX_ITEMS" in run_cli(["--help"]).out


def test_a_limit_error_is_caught_by_try_as_any_other() -> None:
    result = _in_process("try { echo (1..1000000000) } catch e { echo $e.kind }")
    assert (result.code, result.out) == (0, "limit\n")


def test_a_range_whose_end_is_before_its_start_runs_no_turn() -> None:
    result = _in_process("let n = 0; for i in 1..$n { echo $i }; echo (1..$n | length) (5..1 | length)")
    assert (result.code, result.out) == (0, "0\n0\n")


# ------------------------------------------------------------------------------------------ not UTF-8

@pytest.mark.parametrize(
    ("data", "where", "shown", "caret", "byte", "reason"),
    [
        (b'echo ok\nlet x = "ab\xffcd"\n', "2:12", 'let x = "ab\ufffdcd"', "           ^", "0xff", "invalid start byte"),
        (b'echo "\xc3\xa9\xe9t\xc3\xa9"', "1:8", 'echo "\u00e9\ufffdt\u00e9"', "       ^", "0xe9", "invalid continuation byte"),
        (b"\xfe\xff", "1:1", "\ufffd\ufffd", "^", "0xfe", "invalid start byte"),
        (b"echo a\n\n  echo \xc3", "3:8", "  echo \ufffd", "       ^", "0xc3", "unexpected end of data"),
        (b"echo \xed\xa0\x80", "1:6", "echo \ufffd\ufffd\ufffd", "     ^", "0xed", "invalid continuation byte"),
    ],
)
def test_a_script_that_is_not_utf8_is_a_parse_error_at_its_first_bad_byte(
    tmp_path: Path, data: bytes, where: str, shown: str, caret: str, byte: str, reason: str,
) -> None:
    script = tmp_path / "bad.pouch"
    script.write_bytes(data)
    line = where.split(":")[0]
    for argv, stdin, name in [([str(script)], b"", str(script)), (["-"], data, "<stdin>"), ([], data, "<stdin>")]:
        proc = subprocess.run([*_PROGRAM, *argv], input=stdin, capture_output=True, env=_env(), timeout=60,
                              check=False)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and proc.stdout == b"", err
        gutter = " " * len(line)
        offset = data.index(bytes.fromhex(byte[2:]))
        assert err == (
            f"error[parse]: the script is not valid UTF-8: byte {byte} at offset {offset} ({reason})\n"
            f"{gutter}--> {name}:{where}\n{gutter} |\n{line} | {shown}\n{gutter} | {caret}\n"
            f"{gutter} = help: save the script as UTF-8\n"
        )
    # -c: the argument's bytes as the user typed them (Python keeps them through surrogateescape)
    proc = subprocess.run([*_PROGRAM, "-c", os.fsdecode(data)], capture_output=True, env=_env(), timeout=60,
                          check=False)
    assert proc.returncode == 2 and f"--> <command>:{where}" in proc.stderr.decode()


def test_nothing_of_a_script_that_is_not_utf8_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "bad.pouch"
    script.write_bytes(f"^touch {marker}\necho '\xff'\n".encode("latin-1"))
    proc = subprocess.run([*_PROGRAM, str(script)], capture_output=True, env=_env(), timeout=60, check=False)
    assert proc.returncode == 2 and not marker.exists()


# ------------------------------------------------------------------------------------------ operators

@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("[1] in {a: 1}", "`in` on a record looks for a key, which is a string; got list in record"),
        ("{a: 1} in {a: 1}", "got record in record"),
        ("1 in {a: 1}", "got int in record"),
        ("[1] in 'a'", "`in` looks for text in a string, got list in string"),
        ("null in 'a'", "got null in string"),
        ("1 in 5", "`in` needs a list, range, record or string on the right; got int in int"),
        ("{a: 1} in 64MiB", "got record in size"),
        ("(1..3) in null", "got range in null"),
    ],
)
def test_in_on_kinds_it_cannot_search_is_invalid_argument_naming_both(source: str, message: str) -> None:
    result = _in_process(source)
    assert result.code == 1
    assert result.err.startswith(f"error[invalid-argument]: {message}") or message in result.err.splitlines()[0]
    assert "internal error" not in result.err and "TypeError" not in result.err


@pytest.mark.parametrize(
    ("source", "out"),
    [
        ('"a" in {a: 1}', "true"), ('"b" in {a: 1}', "false"), ("[1] in [[1] 2]", "true"),
        ("{a: 1} in [{a: 1}]", "true"), ("1 in 'a1'", "true"), ("3 in 1..5", "true"), ("3.5 in 1..5", "false"),
        ("'x' in 1..5", "false"), ("0 in (1..0)", "false"),
    ],
)
def test_in_answers_for_every_kind_it_can_search(source: str, out: str) -> None:
    assert _in_process(f"echo ({source})").out == out + "\n"


@pytest.mark.parametrize(
    "source",
    [
        "let x = 10; for i in 1..10 { $x = $x * $x }",  # would grow without bound, then fail to print
        "echo (9223372036854775807 + 1)",
        "echo (64MiB * 1000000000000000)",
        "echo (1000000000000000000000 / 3)",
    ],
)
def test_arithmetic_out_of_range_is_invalid_argument(source: str) -> None:
    result = _in_process(source)
    assert result.code == 1 and result.err.startswith("error[invalid-argument]: "), result.err
    assert "out of range" in result.err.splitlines()[0]


# ------------------------------------------------------------------------------------------ Ctrl-C

#: delays after the process is started, from none up to well after the imports are done and the script runs
_DELAYS_MS = [0, 1, 2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 600]


_MAIN = REPO / "pouchsh" / "__main__.py"
#: the line of pouchsh/__main__.py that installs the start-up handler when the module runs as the program
_HANDLER_LINE = next(i for i, line in enumerate(_MAIN.read_text().splitlines(), 1)
                     if line.startswith("    signal.signal(signal.SIGINT, interrupted_at_startup)"))
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _ours(traceback_text: str) -> bool:
    """Whether the traceback was raised after pouchsh's handler was in place.

    Before the first lines of pouchsh/__main__.py run, CPython itself and the console script's own
    `import re` are starting (about 10 ms on an idle machine, several times that on a busy one); an
    interrupt there is CPython's to report, before any code of pouchsh exists to handle it."""
    for path, line, function in _FRAME.findall(traceback_text):
        if "/pouchsh/" not in path and "/ctrd/" not in path and "/grammar/" not in path:
            continue
        if path.endswith("pouchsh/__init__.py"):
            continue  # empty; imported on the way to __main__
        if path.endswith("pouchsh/__main__.py") and function == "<module>" and int(line) <= _HANDLER_LINE:
            continue
        return True
    return False


def test_ctrl_c_at_any_moment_of_start_up_exits_130_without_a_traceback() -> None:
    # Each run starts at its own speed (the machine is shared), so the delays sample start-up rather
    # than pin moments of it; every run is judged on its own.
    outcomes: list[tuple[int, str]] = []
    for delay in _DELAYS_MS:
        proc = subprocess.Popen([*_PROGRAM, "-c", "sleep 30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env())
        deadline = time.monotonic() + delay / 1000
        while time.monotonic() < deadline:
            pass  # a busy wait: sleeping would overshoot the short delays by more than they are
        proc.send_signal(signal.SIGINT)
        _, err_b = proc.communicate(timeout=60)
        err = err_b.decode()
        if "Traceback" in err:
            assert not _ours(err), f"after {delay} ms:\n{err}"
            outcomes.append((delay, "cpython"))
            continue
        if proc.returncode == 1 and err.strip() == "KeyboardInterrupt":
            # raised while CPython ran no Python frame yet (opening the entry script): its own report
            outcomes.append((delay, "cpython"))
            continue
        if proc.returncode == -signal.SIGINT:
            # killed before CPython had installed its handler: a shell reports this as 130 too
            assert err == "", (delay, err)
            outcomes.append((delay, "signal"))
            continue
        assert proc.returncode == 130, f"after {delay} ms: status {proc.returncode}\n{err}"
        assert err == "error[interrupted]: interrupted\n" or (
            err.startswith("error[interrupted]: ") and "Traceback" not in err), err
        outcomes.append((delay, "130"))
    assert sum(kind == "130" for _, kind in outcomes) >= 4, outcomes


def test_a_sourced_file_that_is_not_utf8_is_a_parse_error_in_that_file(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "lib.pouch").write_bytes(b"let x = 1\necho '\xff'\n")
    script = tmp_path / "main.pouch"
    script.write_text(f"^touch {marker}\nsource lib.pouch\n")
    proc = subprocess.run([*_PROGRAM, str(script)], capture_output=True, env=_env(), timeout=60, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and not marker.exists(), err
    assert err.startswith("error[parse]: the script is not valid UTF-8: byte 0xff at offset 16"), err
    assert f"--> {tmp_path / 'lib.pouch'}:2:7" in err and "Traceback" not in err and "internal" not in err, err
