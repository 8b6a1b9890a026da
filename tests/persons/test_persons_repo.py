"""PersonsDB on real SQLite and PostgreSQL: CRUD, version rules, conflicts, hidden link."""

from __future__ import annotations

from datetime import date

import pytest

from personsync.errors import ConflictError, PersonNotFound, UsageError
from personsync.model import Record
from personsync.persons.repo import PersonsDB

ANN = Record(
    first_name="Ann",
    last_name="Żółć",
    email1="Ann@Example.org",
    birthday=date(1990, 2, 3),
    categories=("VIP", "Board"),
)


def test_add_get_round_trip_keeps_every_value(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN, contact_manager_id="item-1")
    got = persons_db.get(p.id)
    assert got.record == ANN
    assert got.contact_manager_id == "item-1"
    assert got.version == p.version
    assert got.created_at is not None and got.created_at.tzinfo is not None
    assert got.created_at == got.updated_at


def test_get_missing_raises_person_not_found(persons_db: PersonsDB) -> None:
    with pytest.raises(PersonNotFound, match="42"):
        persons_db.get(42)
    with pytest.raises(PersonNotFound):
        persons_db.update(42, {"first_name": "x"})
    with pytest.raises(PersonNotFound):
        persons_db.delete(42)
    with pytest.raises(PersonNotFound):
        persons_db.set_contact_manager_id(42, "x")


def test_update_bumps_version_only_on_real_change(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN)
    same = persons_db.update(p.id, {"first_name": "Ann", "categories": ("VIP", "Board")})
    assert same.version == p.version and same.updated_at == p.updated_at
    changed = persons_db.update(p.id, {"first_name": "Anna", "birthday": "1991-04-05"})
    assert int(changed.version) == int(p.version) + 1
    assert changed.record.first_name == "Anna"
    assert changed.record.birthday == date(1991, 4, 5)
    assert changed.updated_at is not None and p.updated_at is not None
    assert changed.updated_at > p.updated_at
    assert persons_db.get(p.id) == changed


def test_update_with_stale_version_is_a_conflict_and_writes_nothing(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN)
    persons_db.update(p.id, {"company": "ACME"}, expected_version=p.version)
    with pytest.raises(ConflictError):
        persons_db.update(p.id, {"company": "Other"}, expected_version=p.version)
    assert persons_db.get(p.id).record.company == "ACME"


def test_update_checked_writes_each_current_person_and_names_the_others(
    persons_db: PersonsDB,
) -> None:
    ids = persons_db.add_many([ANN, Record(first_name="Bo"), Record(first_name="Cy")])
    v = persons_db.new_version
    persons_db.update(ids[1], {"company": "Moved on"})  # Bo's version is no longer v
    got = persons_db.update_checked(
        [
            (ids[0], {"company": "ACME"}, v),
            (ids[1], {"company": "Stale"}, v),
            (ids[2], {"first_name": "Cy"}, v),  # changes nothing: keeps its version
            (999_999, {"company": "Nobody"}, v),
            (ids[2], {"frist_name": "x"}, v),
            (ids[0], {"job_title": "Chair"}, str(int(v) + 1)),  # sees the first update
        ]
    )
    assert got[0] == str(int(v) + 1)
    assert isinstance(got[1], ConflictError)
    assert got[2] == v == persons_db.get(ids[2]).version
    assert isinstance(got[3], PersonNotFound)
    assert isinstance(got[4], UsageError)
    assert got[5] == str(int(v) + 2) == persons_db.get(ids[0]).version
    assert persons_db.get(ids[0]).record.company == "ACME"
    assert persons_db.get(ids[0]).record.job_title == "Chair"
    assert persons_db.get(ids[1]).record.company == "Moved on"


def test_update_rejects_unknown_field_and_bad_date(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN)
    with pytest.raises(UsageError, match="frist_name"):
        persons_db.update(p.id, {"frist_name": "x"})
    with pytest.raises(UsageError, match="birthday"):
        persons_db.update(p.id, {"birthday": "31.12.1999"})
    assert persons_db.get(p.id) == p


def test_contact_manager_id_does_not_bump_version(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN)
    persons_db.set_contact_manager_id(p.id, "AAMk-1")
    got = persons_db.get(p.id)
    assert got.contact_manager_id == "AAMk-1" and got.version == p.version
    persons_db.set_contact_manager_id(p.id, None)
    assert persons_db.get(p.id).contact_manager_id is None


def test_add_many_returns_ids_in_order_and_versions_lists_them(persons_db: PersonsDB) -> None:
    records = [Record(first_name=f"P{i}", email1=f"p{i}@x.org") for i in range(12)]
    ids = persons_db.add_many(records)
    assert len(set(ids)) == 12
    assert [persons_db.get(i).record for i in ids] == records
    versions = persons_db.versions()
    assert set(versions) == set(ids) and set(versions.values()) == {"1"}
    assert persons_db.count() == 12
    assert persons_db.get_many([ids[0], ids[3], 999]).keys() == {ids[0], ids[3]}


def test_versions_hold_one_string_per_distinct_version(persons_db: PersonsDB) -> None:
    # A first sync lists 100,000 versions, nearly all "1": one string each was 5 MB of its peak.
    ids = persons_db.add_many([Record(first_name=f"P{i}") for i in range(5)])
    persons_db.update_many([(ids[3], {"first_name": "Q"}), (ids[4], {"first_name": "R"})])
    versions = persons_db.versions()
    assert [versions[i] for i in ids] == ["1", "1", "1", "2", "2"]
    assert len({id(v) for v in versions.values()}) == 2


def test_update_many_skips_unchanged_rows(persons_db: PersonsDB) -> None:
    ids = persons_db.add_many([Record(first_name="A"), Record(first_name="B")])
    persons_db.update_many([(ids[0], {"first_name": "A"}), (ids[1], {"first_name": "Bee"})])
    v = persons_db.versions()
    assert v[ids[0]] == "1" and v[ids[1]] == "2"
    assert persons_db.get(ids[1]).record.first_name == "Bee"


def test_update_many_with_a_missing_person_changes_nothing(persons_db: PersonsDB) -> None:
    (pid,) = persons_db.add_many([Record(first_name="A")])
    with pytest.raises(PersonNotFound, match="777"):
        persons_db.update_many([(pid, {"first_name": "Z"}), (777, {"first_name": "Y"})])
    assert persons_db.get(pid).record.first_name == "A"


def test_delete_then_restore_recreates_same_id_with_higher_version(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN, contact_manager_id="item-9")
    persons_db.delete(p.id)
    with pytest.raises(PersonNotFound):
        persons_db.get(p.id)
    back = persons_db.restore(p)
    assert back.id == p.id and back.record == ANN and back.contact_manager_id == "item-9"
    assert int(back.version) > int(p.version)
    # a new Person never reuses a deleted id
    persons_db.delete(p.id)
    assert persons_db.add(Record(first_name="New")).id != p.id


def test_restore_over_existing_person_puts_old_values_back(persons_db: PersonsDB) -> None:
    p = persons_db.add(ANN)
    changed = persons_db.update(p.id, {"last_name": "Other"})
    back = persons_db.restore(p)
    assert back.record == ANN
    assert int(back.version) > int(changed.version)


def test_find_by_email_is_case_insensitive_across_fields(persons_db: PersonsDB) -> None:
    a = persons_db.add(ANN)
    b = persons_db.add(Record(first_name="B", email3="ANN@example.ORG"))
    persons_db.add(Record(first_name="C", email1="other@example.org"))
    assert [p.id for p in persons_db.find_by_email(" ann@EXAMPLE.org")] == [a.id, b.id]
    assert persons_db.find_by_email("") == []


def test_add_many_round_trips_sample_records_exactly(persons_db: PersonsDB) -> None:
    from personsync.persons.sample import generate

    records = list(generate(400, seed=11))  # dates, categories, multi-line, diacritics, CJK
    first = persons_db.add(Record(first_name="before"))
    ids = persons_db.add_many(records)
    assert ids == list(range(ids[0], ids[0] + len(records))) and ids[0] > first.id
    got = persons_db.get_many(ids)
    assert [got[i].record for i in ids] == records
    stamps = {(p.created_at, p.updated_at, p.version) for p in got.values()}
    assert len(stamps) == 1
    created, updated, version = stamps.pop()
    assert created is not None and created.tzinfo is not None and created == updated
    assert version == "1"
    assert [p.record for p in persons_db.iter_persons()][1:] == records
    assert persons_db.add(Record(first_name="after")).id > ids[-1]
