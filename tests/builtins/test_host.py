"""Host programs: no shell, stdout is the value, failures carry stderr."""

from __future__ import annotations

import io
import os
import threading

import pytest

from ctrd.errors import Interrupted, NotFound, PouchRuntimeError
from pouchsh.host import HostProgramFailed, encode_input, run_host

ENV = dict(os.environ)


def test_stdout_is_the_value_without_trailing_newlines():
    assert run_host(["echo", "hi"], None, "/", ENV) == "hi"
    assert run_host(["printf", "a\\n\\n"], None, "/", ENV) == "a"


def test_no_shell_is_involved():
    assert run_host(["echo", "$HOME;", "`id`"], None, "/", ENV) == "$HOME; `id`"


def test_input_cwd_and_env_are_used(tmp_path):
    assert run_host(["cat"], b"piped", "/", ENV) == "piped"
    assert run_host(["pwd"], None, str(tmp_path), ENV) == str(tmp_path)
    assert run_host(["env"], None, "/", {"PATH": ENV["PATH"], "ONLY": "1"}).splitlines() == ["PATH=" + ENV["PATH"], "ONLY=1"]


def test_failure_carries_status_and_stderr():
    with pytest.raises(HostProgramFailed) as info:
        run_host(["sh", "-c", "echo out; echo why >&2; exit 3"], None, "/", ENV)
    err = info.value
    assert isinstance(err, PouchRuntimeError) and err.kind == "runtime"
    assert err.status == 3 and err.stderr == "why\n"
    assert str(err) == "sh exited with status 3: why"


def test_stderr_of_a_success_is_passed_on():
    sink = io.BytesIO()
    assert run_host(["sh", "-c", "echo ok; echo note >&2"], None, "/", ENV, stderr=sink) == "ok"
    assert sink.getvalue() == b"note\n"


def test_missing_program_is_not_found(tmp_path):
    with pytest.raises(NotFound, match="no-such-program-xyz: program not found on PATH"):
        run_host(["no-such-program-xyz"], None, "/", ENV)
    with pytest.raises(NotFound, match="./absent: no such file"):
        run_host(["./absent"], None, str(tmp_path), ENV)


def test_cancel_terminates_the_program():
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(Interrupted, match="sleep: interrupted"):
        run_host(["sleep", "600"], None, "/", ENV, cancel=cancel)


def test_encode_input():
    assert encode_input(None) is None
    assert encode_input("x") == b"x"
    assert encode_input(["a", "b"]) == b"a\nb\n"
    assert encode_input({"a": 1}) == b'{"a":1}\n'


def test_the_program_sees_its_name_as_given():
    assert run_host(["sh", "-c", 'echo "$0"'], None, "/", ENV) == "sh"
