"""managers.filters: the ``--filter KEY=VALUE`` parsing and matchers every manager uses (pure)."""

from __future__ import annotations

import pytest

from ctrd.errors import InvalidArgument
from managers.filters import id_matches, label_matches, matches, name_matches, parse_filters, truth

KNOWN = ("name", "label", "dangling")


def test_values_of_one_key_are_collected_in_order() -> None:
    parsed = parse_filters(["label=a", "name=web", "label=b=1"], KNOWN, "volumes")
    assert parsed == {"label": ["a", "b=1"], "name": ["web"]}
    assert parse_filters(None, KNOWN, "volumes") == {}


def test_an_unknown_key_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidArgument, match="unknown filter 'colour' for volumes: use name, label, dangling"):
        parse_filters(["colour=red"], KNOWN, "volumes")


@pytest.mark.parametrize("item", ["name", "=web", ""])
def test_an_item_that_is_not_key_value_is_refused(item: str) -> None:
    with pytest.raises(InvalidArgument, match="use KEY=VALUE"):
        parse_filters([item], KNOWN, "volumes")


def test_a_switch_value_is_checked_when_parsed() -> None:
    assert parse_filters(["dangling=1"], KNOWN, "volumes", switches=("dangling",)) == {"dangling": ["1"]}
    with pytest.raises(InvalidArgument, match="dangling takes true or false"):
        parse_filters(["dangling=maybe"], KNOWN, "volumes", switches=("dangling",))


def test_matchers() -> None:
    labels = {"app": "shop", "tier": ""}
    assert label_matches(labels, "app") and label_matches(labels, "app=shop") and label_matches(labels, "tier=")
    assert not label_matches(labels, "app=web") and not label_matches(labels, "env")
    assert name_matches("web-1", "eb") and not name_matches("web-1", "db")
    assert id_matches("abc123", "abc") and not id_matches("abc123", "123")
    assert truth("dangling", "TRUE") and truth("dangling", "1") and not truth("dangling", "false")


def test_keys_and_values_combine_as_docker_does() -> None:
    labels = {"app": "shop", "tier": "web"}
    record = {"name": "web-1", "labels": labels}

    def test(key: str, value: str) -> bool:
        return name_matches(record["name"], value) if key == "name" else label_matches(labels, value)

    assert matches({}, test)
    assert matches({"name": ["db", "web"]}, test)  # the values of one key: any
    assert not matches({"name": ["db", "api"]}, test)
    assert matches({"name": ["web"], "label": ["app=shop"]}, test)  # different keys: all
    assert not matches({"name": ["db"], "label": ["app=shop"]}, test)
    assert matches({"label": ["app", "tier=web"]}, test)  # labels: every one given (docker's MatchKVList)
    assert not matches({"label": ["app", "tier=db"]}, test)
