"""`csv:` defects found by fuzzing: all-empty rows, ids that collide."""

from __future__ import annotations

from pathlib import Path

from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem, read_all
from personsync.sync import engine
from personsync.sync.options import RunOptions

HEADER = "First Name,Last Name,E-mail Address,Business Phone,personsync Item ID\r\n"


def test_an_all_empty_row_is_skipped_and_counted_not_a_blank_person(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        HEADER + "Anna,Lee,anna@example.org,,\r\n,,,,\r\n , ,,,\r\nBob,Ray,,555 0100,\r\n"
    )
    url = f"csv:{path}"
    db = PersonsDB(sqlite_url)
    try:
        out = engine.run(db, url, "import", options=RunOptions(yes=True))
        assert sorted(p.record.first_name for p in db.iter_persons()) == ["Anna", "Bob"]
        assert out.report is not None and out.report.counts.get("skip") == 2
        lines = sorted(s["reason"] for s in out.report.skipped)
        assert all("empty row" in reason for reason in lines)
        assert "line 3" in lines[0] and "line 4" in lines[1]
    finally:
        db.close()


def test_made_up_row_ids_never_take_a_stored_id(tmp_path: Path) -> None:
    # Two rows with one stored id, then a row whose stored id is what the second one's made-up
    # id was: each keeps an id of its own (a shared one dropped a row from the listing).
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "Anna,Lee,,,x\r\nBob,Ray,,,x\r\nCarl,Ode,,,x-2\r\n")
    store = open_folder(f"csv:{path}", create=False)
    got = {c.item_id: c.record.first_name for c in read_all(store) if isinstance(c, Contact)}
    assert sorted(got.values()) == ["Anna", "Bob", "Carl"]
    assert got["x"] == "Anna"
    assert not [g for g in read_all(store) if isinstance(g, ReadProblem)]
