"""docker's ``--format`` templates (pouchsh.gotemplate) against golden cases in ``templates/*.cases``:
each case is a template over ``templates/data.json`` and the text it must give, or the error (with the
template's line and column) it must raise. Plus the bounds a hostile template meets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ctrd.errors import InvalidArgument, PouchError
from pouchsh import gotemplate
from pouchsh.values import LIMITS

HERE = Path(__file__).resolve().parent / "templates"
_CASE = re.compile(r"^### (.+)$", re.MULTILINE)
_SPLIT = re.compile(r"^--- (output|error)$", re.MULTILINE)


def _cases() -> list[tuple[str, str, str, str]]:
    out = []
    for path in sorted(HERE.glob("*.cases")):
        parts = _CASE.split(path.read_text())
        for i in range(1, len(parts), 2):
            name, body = parts[i], parts[i + 1]
            template, kind, expected = _SPLIT.split(body)
            out.append((f"{path.stem}: {name}", template.removeprefix("\n").removesuffix("\n"), kind,
                        expected.strip("\n")))
    return out


def _data() -> dict[str, Any]:
    data = json.loads((HERE / "data.json").read_text())
    labels = dict(data["Labels"])
    data["Label"] = gotemplate.Method("Label", lambda name: labels.get(name, ""))
    return data


CASES = _cases()


def test_there_are_golden_cases_of_both_kinds() -> None:
    kinds = [kind for _, _, kind, _ in CASES]
    assert kinds.count("output") >= 30 and kinds.count("error") >= 15


@pytest.mark.parametrize(("name", "template", "kind", "expected"), CASES, ids=[c[0] for c in CASES])
def test_case(name: str, template: str, kind: str, expected: str) -> None:
    if kind == "output":
        assert gotemplate.parse(template).render(_data()) == expected
    else:
        with pytest.raises(InvalidArgument) as err:
            gotemplate.parse(template).render(_data())
        assert err.value.message == expected


def test_table_keyword_is_seen_and_positions_count_from_the_template_start() -> None:
    assert gotemplate.parse("table {{.ID}}\t{{.Names}}").table
    assert not gotemplate.parse("tablet {{.ID}}").table
    with pytest.raises(InvalidArgument, match=r"template: 1:9: function \"nope\" not defined"):
        gotemplate.parse("table {{nope}}")


def test_a_missing_field_is_no_value_when_not_strict_as_docker_inspect() -> None:
    assert gotemplate.parse("{{.Nope}}").render({"A": 1}, strict=False) == "<no value>"


def test_output_is_bounded_by_the_text_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "text", 1000)
    many = {"Items": list(range(400))}
    with pytest.raises(PouchError) as err:
        gotemplate.parse("{{range .Items}}{{.}}-{{.}}-{{.}}{{end}}").render(many)
    assert err.value.kind == "limit"
    with pytest.raises(PouchError):
        gotemplate.parse('{{printf "%4000s" "x"}}').render({})
    with pytest.raises(PouchError):
        gotemplate.parse("{{join .Items \"------\"}}").render(many)


def test_widths_and_pads_are_bounded() -> None:
    with pytest.raises(InvalidArgument, match="width over 4096"):
        gotemplate.parse('{{printf "%999999999s" "x"}}').render({})
    with pytest.raises(InvalidArgument, match="pad needs"):
        gotemplate.parse('{{pad "x" 999999999 0}}').render({})


def test_a_range_over_a_huge_count_is_bounded_by_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "text", 100_000)
    with pytest.raises(PouchError) as err:
        gotemplate.parse("{{range 100000000000}}xxxxxxxxxxxxxxxxxxxx{{end}}").render({})
    assert err.value.kind == "limit"
