"""The first sync's match index: what it holds per record (a first sync of 100,000 indexes every
unlinked contact), and that matching through it is unchanged."""

from __future__ import annotations

import gc

import pytest

from personsync.model import Record
from personsync.sync import match
from personsync.sync.match import MatchIndex, resolve


def _lists_in(index: MatchIndex[str]) -> int:
    """The lists the index holds, found as the collector sees them (what is alive)."""
    held = [*gc.get_referents(index.by_email), *gc.get_referents(index.by_name)]
    return sum(isinstance(o, list) for o in held)


def test_a_record_with_keys_of_its_own_holds_no_list() -> None:
    index: MatchIndex[str] = MatchIndex()
    for i in range(50):
        index.add(f"c{i}", Record(first_name=f"Ann{i}", last_name="Lee", email1=f"a{i}@x.org"))
    # Unique e-mails and names: each kept as itself, not in a one-item list (two per record).
    assert len(index.by_email) == 50 and len(index.by_name) == 50
    assert _lists_in(index) == 0
    # Two records under one key: both kept, in the order added.
    index.add("d1", Record(first_name="Bo", last_name="Ray", email1="bo@x.org", company="Acme"))
    index.add("d2", Record(first_name="Bo", last_name="Ray", email1="BO@x.org ", company="Acme"))
    assert _lists_in(index) == 2
    assert index.candidates(Record(email1="bo@x.org")) == ("e-mail", ["d1", "d2"])
    assert index.candidates(Record(email1="a7@x.org")) == ("e-mail", ["c7"])
    got = index.candidates(Record(first_name="bo", last_name="RAY", company="acme"), {"d1"})
    assert got == ("name and company", ["d2"])
    assert index.candidates(Record(first_name="Nobody", email1="n@x.org")) == ("", [])


def test_resolve_through_single_and_shared_keys() -> None:
    index: MatchIndex[str] = MatchIndex()
    index.add("c1", Record(first_name="Ann", last_name="Lee", email1="ann@x.org"))
    index.add("c2", Record(first_name="Cy", last_name="Po", business_phone="+44 20 7946 0000"))
    index.add("c3", Record(first_name="Di", last_name="Ho", email1="di@x.org"))
    index.add("c4", Record(first_name="Di", last_name="Ho", email1="di@x.org"))
    queries = [
        (1, Record(first_name="Ann", last_name="Lee", email1="ANN@x.org")),
        (2, Record(first_name="Cy", last_name="Po", mobile_phone="+44 20 7946 0000")),
        (3, Record(email1="di@x.org")),
    ]
    found = resolve(queries, index, frozenset())
    assert found.matched == {1: ("e-mail", "c1"), 2: ("name and phone", "c2")}
    assert found.ambiguous == {3: ("e-mail", ["c3", "c4"])}


def test_the_index_keeps_an_address_s_own_string_and_fills_no_number_cache() -> None:
    index: MatchIndex[str] = MatchIndex()
    plain, upper = "ann@x.org", "Bo@X.org"
    index.add("a", Record(first_name="Ann", last_name="Lee", email1=plain))
    index.add("b", Record(first_name="Bo", last_name="Ray", email1=upper))
    keys = {k: k for k in index.by_email}
    assert keys[plain] is plain  # already its comparable form: not a lower-cased copy
    assert "bo@x.org" in keys
    # A name bucket's phones are normalised for the entries, kept by them; the index's cache
    # of numbers (one match's, gone with it) holds the queries' only.
    for i in range(30):
        phone = f"+1 212 555 {1000 + i}"
        index.add(f"p{i}", Record(first_name="Cy", last_name="Po", business_phone=phone))
    query = Record(first_name="Cy", last_name="Po", mobile_phone="(212) 555-1007")
    assert index.candidates(query) == ("name and phone", ["p7"])
    assert index.query_phones == {"(212) 555-1007": "+12125551007"}  # the query's own only
    # A query without phones leaves the entries' numbers alone.
    for i in range(3):
        index.add(f"d{i}", Record(first_name="Di", last_name="Wu", home_phone=f"+1 212 555 {i}"))
    index.add("d9", Record(first_name="Di", last_name="Wu", company="Acme"))
    assert index.candidates(Record(first_name="Di", last_name="Wu", company="acme")) == (
        "name and company",
        ["d9"],
    )
    bucket = index.by_name["di wu"]
    assert isinstance(bucket, list) and len(bucket) == 4
    assert all(entry._phones is None for entry in bucket)


def test_one_record_wanted_by_several_queries_is_contested_by_all_of_them() -> None:
    index: MatchIndex[str] = MatchIndex()
    index.add("ann", Record(first_name="Ann", email1="ann@x.org"))
    index.add("bo", Record(first_name="Bo", email1="bo@x.org"))
    index.add("cy", Record(first_name="Cy", email1="cy@x.org"))
    queries = [
        (1, Record(email1="ANN@x.org")),
        (2, Record(email1="bo@x.org")),
        (3, Record(email1="ann@x.org ")),
        (4, Record(email1="cy@x.org")),
        (5, Record(email1="cy@x.org")),
        (6, Record(email1="ann@x.org")),
    ]
    found = resolve(queries, index, frozenset())
    assert found.matched == {2: ("e-mail", "bo")}
    assert found.contested == {
        1: ("e-mail", "ann", [1, 3, 6]),
        3: ("e-mail", "ann", [1, 3, 6]),
        6: ("e-mail", "ann", [1, 3, 6]),
        4: ("e-mail", "cy", [4, 5]),
        5: ("e-mail", "cy", [4, 5]),
    }
    assert found.ambiguous == {} and found.unmatched == []


def test_an_e_mail_match_is_taken_before_names_are_matched() -> None:
    # Contact "a" has Person 1's address, and Person 2's name and phone (Person 2 has no
    # address). By the rule, "the same e-mail address; else the same name and phone", Person 1
    # is "a"'s: taken first, as the next run would find it (linked), and Person 2 is matched by
    # name among the contacts no address took ("b", whose company is Person 2's).
    index: MatchIndex[str] = MatchIndex()
    index.add(
        "a",
        Record(
            first_name="Ann", last_name="Lee", email1="al@x.org", mobile_phone="+1 212 555 0100"
        ),
    )
    index.add("b", Record(first_name="Ann", last_name="Lee", company="Acme"))
    queries = [
        (1, Record(first_name="Annie", last_name="Lee", email1="AL@x.org")),
        (
            2,
            Record(
                first_name="Ann", last_name="Lee", mobile_phone="(212) 555-0100", company="Acme"
            ),
        ),
    ]
    found = resolve(queries, index, frozenset())
    assert found.matched == {1: ("e-mail", "a"), 2: ("name and company", "b")}
    assert found.ambiguous == {} and found.contested == {} and found.unmatched == []
    # Without "b", Person 2 has no candidate left: unmatched (a new contact), not a guess.
    index = MatchIndex()
    index.add(
        "a",
        Record(
            first_name="Ann", last_name="Lee", email1="al@x.org", mobile_phone="+1 212 555 0100"
        ),
    )
    found = resolve(queries, index, frozenset())
    assert found.matched == {1: ("e-mail", "a")} and found.unmatched == [2]


def test_a_record_contested_by_addresses_still_counts_against_a_name() -> None:
    # Two Persons share "a"'s address (contested: neither is settled), and a third wants "a" by
    # name and phone: "a" is not given to the name either; all three are named.
    index: MatchIndex[str] = MatchIndex()
    index.add(
        "a",
        Record(
            first_name="Ann", last_name="Lee", email1="al@x.org", mobile_phone="+1 212 555 0100"
        ),
    )
    queries = [
        (1, Record(email1="al@x.org")),
        (2, Record(email1="AL@x.org")),
        (3, Record(first_name="Ann", last_name="Lee", mobile_phone="+1 212 555 0100")),
    ]
    found = resolve(queries, index, frozenset())
    assert found.matched == {}
    assert found.contested == {
        1: ("e-mail", "a", [1, 2, 3]),
        2: ("e-mail", "a", [1, 2, 3]),
        3: ("name and phone", "a", [1, 2, 3]),
    }


def test_records_taken_by_e_mail_have_no_phone_number_parsed() -> None:
    # A name shared by many records, all but one matched by address: only the one left (and
    # the query) has its numbers parsed, and the bucket keeps only what is left to match.
    index: MatchIndex[str] = MatchIndex()
    queries: list[tuple[int, Record]] = []
    for i in range(20):
        phone = f"+1 212 555 {1000 + i}"
        record = Record(first_name="Cy", last_name="Po", email1=f"cy{i}@x.org", home_phone=phone)
        index.add(f"c{i}", record)
        queries.append((i, record))
    index.add("last", Record(first_name="Cy", last_name="Po", home_phone="+1 212 555 9999"))
    bucket = index.by_name["cy po"]
    assert isinstance(bucket, list)
    queries.append((99, Record(first_name="Cy", last_name="Po", mobile_phone="(212) 555-9999")))
    found = resolve(queries, index, frozenset())
    assert found.matched[99] == ("name and phone", "last")
    assert len(found.matched) == 21
    assert [entry.key for entry in bucket if entry._phones is not None] == ["last"]
    # Pruned as it was scanned: the records taken by address are gone from the bucket.
    left = index.by_name["cy po"]
    assert not isinstance(left, list) and left.key == "last"


def test_matches_are_told_in_the_queries_order_without_a_dict_by_query() -> None:
    # The planner asks for each query's match in the order it gave them: a first sync's
    # 100,000 matches are held as a list in that order, not also as a dict by query (5 MB
    # while the pairs are planned); a look-up by query makes that dict when first asked.
    index: MatchIndex[str] = MatchIndex()
    for i in range(6):
        index.add(f"c{i}", Record(first_name=f"P{i}", last_name="Lee", email1=f"p{i}@x.org"))
    queries = [(i * 1000, Record(email1=f"p{(i * 7) % 9}@x.org")) for i in range(9)]
    found = resolve(queries, index, frozenset())
    told = [found.matched.at(i) for i in range(len(queries))]
    assert found.matched._found is None
    expected = [("e-mail", f"c{(i * 7) % 9}") if (i * 7) % 9 < 6 else None for i in range(9)]
    assert told == expected
    assert found.matched == {q: m for (q, _), m in zip(queries, told, strict=True) if m}
    assert 0 in found.matched and 1000 not in found.matched
    # Nothing to match against: no query is held, and none is told as matched.
    empty = resolve(iter(queries), MatchIndex[str](), frozenset())
    assert [empty.matched.at(i) for i in range(9)] == [None] * 9
    assert empty.unmatched == [q for q, _ in queries]


def test_records_taken_by_e_mail_are_never_indexed_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # Indexed by name only when a name is first looked up, and then only those no e-mail
    # took: a first sync's 100,000 contacts, nearly all matched by address, were each given an
    # entry and a transliterated name (10 MB of the plan's peak).
    named: list[str] = []
    real = match.name_key

    def counted(r: Record) -> str:
        named.append(f"{r.first_name} {r.last_name}")
        return real(r)

    monkeypatch.setattr(match, "name_key", counted)
    index: MatchIndex[str] = MatchIndex()
    for i in range(10):
        index.add(f"c{i}", Record(first_name=f"P{i}", last_name="Lee", email1=f"p{i}@x.org"))
    index.add("n", Record(first_name="No", last_name="Mail", company="Acme"))
    queries = [(i, Record(email1=f"p{i}@x.org")) for i in range(10)]
    queries.append((99, Record(first_name="no", last_name="MAIL", company="acme")))
    found = resolve(queries, index, frozenset())
    assert found.matched[99] == ("name and company", "n") and len(found.matched) == 11
    # The name query's own, and the one record no address took: none of the other ten.
    assert sorted(named) == ["No Mail", "no MAIL"]
    assert list(index._names) == ["no mail"]
    # Read whole (a caller that looks at the index itself), it indexes every record added.
    fresh: MatchIndex[str] = MatchIndex()
    fresh.add("a", Record(first_name="Ann", email1="a@x.org"))
    assert list(fresh.by_name) == ["ann"]
