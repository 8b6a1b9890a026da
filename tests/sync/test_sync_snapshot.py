"""`snapshot.persons_out_of_step`, the no-op run's fast path, answers as `in_step` does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from personsync.model import Person, Record
from personsync.sync.links import LinkRow
from personsync.sync.snapshot import (
    GONE,
    LEFT,
    MOVED,
    TAGGED,
    ReadVersions,
    in_step,
    persons_out_of_step,
)

# Every marker a link's versions can hold (tombstones, moved, dormant), and real versions.
VERSIONS = st.sampled_from(["", GONE, MOVED, LEFT, TAGGED, "1", "2", "3-4-5", "3-4-6"])


@st.composite
def sides(draw: st.DrawFn) -> tuple[dict[int, LinkRow], dict[str, str], dict[int, str]]:
    persons = draw(st.lists(st.integers(0, 30), unique=True, max_size=25))
    versions = {p: draw(st.sampled_from(["1", "2"])) for p in persons}
    links = {}
    for p in draw(st.lists(st.integers(0, 30), unique=True, max_size=25)):
        item = draw(st.sampled_from([f"i{n}" for n in range(30)]))
        links[p] = LinkRow(p, item, draw(VERSIONS), draw(VERSIONS))
    listing = {
        f"i{n}": draw(st.sampled_from(["3-4-5", "3-4-6", "1"]))
        for n in draw(st.lists(st.integers(0, 30), unique=True, max_size=25))
    }
    return links, listing, versions


@settings(max_examples=250, deadline=None)
@given(sides(), st.booleans())
def test_the_fast_path_reads_the_same_persons_as_in_step(
    got: tuple[dict[int, LinkRow], dict[str, str], dict[int, str]], recreate: bool
) -> None:
    links, listing, versions = got
    expected = [p for p in versions if not in_step(links.get(p), listing, versions, recreate)]
    assert persons_out_of_step(links, listing, versions, recreate) == expected


def test_pairs_as_the_links_recorded_them_are_not_read() -> None:
    links = {1: LinkRow(1, "a", "3-4-5", "2"), 2: LinkRow(2, "b", "3-4-5", "2")}
    versions = {1: "2", 2: "3", 3: "1"}
    # 1 in step; 2 changed in the CRM; 3 has no link.
    assert persons_out_of_step(links, {"a": "3-4-5", "b": "3-4-5"}, versions) == [2, 3]
    # a changed in the folder, b gone from it.
    assert persons_out_of_step(links, {"a": "3-4-6"}, {1: "2", 2: "2"}) == [1, 2]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(0, 40), st.sampled_from(["1", "2", "3"]), max_size=30),
    st.data(),
)
def test_versions_held_by_the_persons_read_are_the_versions_listed(
    listed: dict[int, str], data: st.DataObject
) -> None:
    # Some Persons read (at the version listed, the very string, as the engine shares it, or
    # at another: changed in between), some not: the mapping is the listing, in its order.
    persons = {}
    for pid in data.draw(st.lists(st.sampled_from(sorted(listed) or [0]), unique=True)):
        if pid in listed:
            changed = data.draw(st.booleans())
            version = listed[pid] + "+" if changed else listed[pid]
            persons[pid] = Person(pid, Record(), version)
    held = ReadVersions(listed, persons)
    assert list(held.items()) == list(listed.items()) and len(held) == len(listed)
    assert held == listed
    for pid in range(-1, 42):
        assert (pid in held) == (pid in listed)
        assert held.get(pid) == listed.get(pid)
        assert held.get(pid, "x") == listed.get(pid, "x")
    # Only those not read at the listed version are held a second time.
    assert set(held._rest) == {
        p for p in listed if p not in persons or persons[p].version != listed[p]
    }
