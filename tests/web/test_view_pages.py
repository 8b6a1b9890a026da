"""A view's kept order, mended after edits rather than sorted again, is always the order the
database's own ORDER BY gives (SQLite and PostgreSQL: their collations and NULLs differ)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import update

from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.persons.schema import persons
from personsync.web.view_pages import ViewPages

NAMES = ["", "Ávila", "avila", "Zoë", "zoe", "O'Brien", "van Dijk", "Ünal", "ünal", "Łukasz", "ß"]


def test_a_mended_order_is_the_databases_order(persons_db: PersonsDB) -> None:
    db = persons_db
    db.add_many(list(generate(300, seed=4)))
    with db.engine.begin() as conn:  # loaded long ago: only the edits below are recent
        conn.execute(update(persons).values(updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.create_view("Desc", "company is not empty", "last_name desc, first_name")
    db.create_view("Plain", "", "last_name, first_name")
    pages = ViewPages()
    rng = random.Random(7)
    for view, where in (("Desc", ""), ("Plain", 'email contains "a"'), ("Plain", "")):
        assert list(pages.ids(db, view, where)) == db.ordered_ids(view, where=where)
    for step in range(8):
        for pid in rng.sample(range(1, 301), 3):
            changes = {"last_name": rng.choice(NAMES), "first_name": rng.choice(NAMES)}
            if step % 3 == 0:
                changes["company"] = rng.choice(["", "Acme"])  # in and out of "Desc"
            db.update(pid, changes)
        if step % 4 == 1:
            db.add_many([db.get(rng.randint(1, 300)).record.replace({"last_name": "Ávila"})])
        for view, where in (("Desc", ""), ("Plain", 'email contains "a"'), ("Plain", "")):
            assert list(pages.ids(db, view, where)) == db.ordered_ids(view, where=where), step
    assert pages.mended == 24  # every one mended, none sorted afresh
    last = max(pages.ids(db, "Plain", ""))
    db.delete(last)
    assert list(pages.ids(db, "Plain", "")) == db.ordered_ids("Plain")
    assert pages.mended == 24  # a delete: sorted afresh
