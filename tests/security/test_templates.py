"""``--format`` templates are script input, so hostile: they read the fields of the record they are given
and call the listed functions, nothing else (no Python attribute, no method the record did not offer),
their output is bounded by POUCHSH_MAX_TEXT, their nesting by a depth, and text inside a record (a label
written by whoever made the container) is never evaluated as a template."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument, PouchError
from pouchsh import gotemplate, listings
from pouchsh.values import LIMITS
from tests.lang.conftest import run_cli

RECORD = {"Name": "web", "Labels": {"evil": "{{.Name}}{{json .}}"}, "List": [1, 2]}

ESCAPES = [
    "{{.__class__}}", "{{.Name.__class__}}", "{{.Name.upper}}", "{{.Labels.keys}}", "{{.Labels.__dict__}}",
    "{{.List.append}}", "{{call .Name}}", "{{exec \"id\"}}", "{{template \"x\" .}}", "{{define \"x\"}}{{end}}",
    "{{block \"x\" .}}{{end}}", "{{html .Name}}", "{{urlquery .Name}}", "{{slice .Name 0 1}}",
    "{{.Name.Name}}", "{{(.Name).__len__}}", "{{$.__class__.__mro__}}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_nothing_but_fields_and_the_listed_functions_is_reachable(source: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^template: \d+:\d+: "):
        gotemplate.parse(source).render(RECORD)


def test_text_inside_a_record_is_data_never_a_template() -> None:
    assert gotemplate.parse("{{.Labels.evil}}").render(RECORD) == "{{.Name}}{{json .}}"
    assert gotemplate.parse('{{index .Labels "evil"}}').render(RECORD) == "{{.Name}}{{json .}}"


def test_a_label_method_only_reads_labels() -> None:
    ps = listings.PS.fields({"id": "a" * 64, "labels": {"k": "v"}}, True)
    assert gotemplate.parse('{{.Label "k"}}|{{.Label "__class__"}}').render(ps) == "v|"
    with pytest.raises(InvalidArgument):
        gotemplate.parse("{{.Label.fn}}").render(ps)


def test_output_past_the_text_limit_is_refused_as_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "text", 10_000)
    for source in ("{{range 1000000000000}}xxxxxxxxxx{{end}}",
                   "{{range .List}}{{range 100000000}}{{printf \"%4096s\" \"\"}}{{end}}{{end}}",
                   "{{join (split (printf \"%4096s\" \"\") \"\") \",\"}}{{join (split (printf \"%4096s\" \"\") \"\") \",\"}}"):
        with pytest.raises(PouchError) as err:
            gotemplate.parse(source).render(RECORD)
        assert err.value.kind == "limit", source


def test_the_limit_holds_from_the_command_line() -> None:
    result = run_cli(["--dry-run", "-c", "inspect -f '{{range 100000000}}x{{end}}' web"],
                     env={"POUCHSH_MAX_TEXT": "1000"})
    assert result.code == 1 and "error[limit]" in result.err


@pytest.mark.parametrize("source", ["(" * 200 + "1" + ")" * 200, "{{if 1}}" * 200 + "{{end}}" * 200])
def test_nesting_is_bounded_without_a_crash(source: str) -> None:
    text = source if source.startswith("{{") else "{{" + source + "}}"
    with pytest.raises(InvalidArgument, match="nested more than"):
        gotemplate.parse(text)


def test_a_hostile_template_in_a_script_is_refused_before_anything_runs() -> None:
    result = run_cli(["--dry-run", "-c", "run -d busybox true\nps --format '{{exec \"sh\"}}'"])
    assert result.code == 2 and result.out == ""
    assert 'function "exec" not defined' in result.err
