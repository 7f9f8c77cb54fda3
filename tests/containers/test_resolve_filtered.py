"""Finding the container a reference names with filtered listings: the same answers as from the whole
namespace (exact id, exact name, unique id prefix, ambiguity, absence), without listing every record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ctrd.errors import Conflict, InvalidArgument, NotFound

pytestmark = pytest.mark.containerd

IDS = ["ab" + "1" * 62, "ab" + "2" * 62, "cd" + "3" * 62]


@pytest.fixture
def records(mgr: Any) -> Iterator[Any]:
    """Three bare records with chosen ids (two share the prefix ``ab``); the third is named ``ab``, a
    name that is also a prefix of the others' ids."""
    client = mgr.ctrd
    for cid, name in zip(IDS, ["first", "second", "ab"], strict=True):
        client.containers.create(cid, spec={"ociVersion": "1.0.2"}, labels={"pouchsh/name": name})
    yield mgr.containers
    for cid in IDS:
        client.containers.delete(cid)


@pytest.fixture
def listings(mgr: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The filters of every Containers.List the manager makes ([] for an unfiltered one)."""
    made: list[list[str]] = []
    containers = mgr.ctrd.containers
    original = containers.list

    def recording(filters: Any = ()) -> Any:
        made.append(list(filters))
        return original(filters)

    monkeypatch.setattr(containers, "list", recording)
    return made


def test_one_reference_is_found_with_filtered_listings(records: Any, listings: list[list[str]]) -> None:
    assert records.resolve(IDS[0][:12]) == IDS[0]
    assert records.resolve("second") == IDS[1]
    assert records.resolve("cd3") == IDS[2]
    assert all(filters for filters in listings), "no listing of the whole namespace"


def test_exact_name_wins_over_an_id_prefix_and_ambiguity_is_a_conflict(records: Any) -> None:
    assert records.resolve("ab") == IDS[2]  # the name, though it is also a prefix of two ids
    with pytest.raises(Conflict, match="ambiguous"):
        records.resolve("a")
    with pytest.raises(NotFound):
        records.resolve("ef")
    with pytest.raises(NotFound):
        records.resolve("nobody")
    with pytest.raises(InvalidArgument):
        records.resolve("no such/name")


def test_many_references_take_one_whole_listing(records: Any, listings: list[list[str]]) -> None:
    found = records.resolver.get_all([IDS[0][:12], "second", "cd", IDS[0]])
    assert [c.id for c in found] == [IDS[0], IDS[1], IDS[2], IDS[0]]
    assert listings == [[]]
