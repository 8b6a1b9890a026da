"""Issue 15 item 6 through the file stores: a contact holding every Outlook field survives import,
a change in the CRM and export (`vcf:`, `vcf-file:`, `csv:`), with the real Persons database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from personsync.fields import FIELDS
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import read_all
from personsync.sync import engine
from personsync.sync.options import RunOptions


def every_field() -> Record:
    """A Record with a value in every field of the table (so that a new field is covered)."""
    values: dict[str, object] = {}
    for i, spec in enumerate(FIELDS):
        if spec.kind == "date":
            values[spec.name] = date(1980 + i, 2, 28)
        elif spec.kind == "list":
            values[spec.name] = (f"{spec.label} A", f"{spec.label} B")
        elif spec.kind == "email":
            values[spec.name] = f"{spec.name}@example.org"
        elif spec.kind == "phone":
            values[spec.name] = f"+1 212 555 {i:04d}"
        elif spec.kind == "url":
            values[spec.name] = f"https://example.org/{spec.name}"
        elif spec.kind == "multiline":
            values[spec.name] = f"{spec.label}, line 1\nline 2"
        else:
            values[spec.name] = f"{spec.label} Zoë {i}"
    return Record(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["vcf", "vcf-file", "csv"])
def test_every_field_survives_import_a_crm_change_and_export(
    kind: str, tmp_path: Path, db_url: str
) -> None:
    url = {
        "vcf": f"vcf:{tmp_path / 'contacts'}",
        "vcf-file": f"vcf-file:{tmp_path / 'contacts.vcf'}",
        "csv": f"csv:{tmp_path / 'contacts.csv'}",
    }[kind]
    record = every_field()
    assert all(value not in ("", None, ()) for value in record.values().values())
    outlook = open_folder(url, create=True)
    outlook.create(Contact(record))
    outlook.close()

    db = PersonsDB(db_url)
    try:
        imported = engine.run(db, url, "import", options=RunOptions(yes=True))
        assert imported.report is not None and imported.report.warnings == []
        (person,) = db.iter_persons()
        assert person.record == record

        changes = {"pager": "+1 646 555 0199", "manager": "", "children": ("Kim",)}
        db.update(person.id, changes)
        engine.run(db, url, "export", options=RunOptions(yes=True))
        store = open_folder(url, create=False)
        try:
            (contact,) = [c for c in read_all(store) if isinstance(c, Contact)]
        finally:
            store.close()
        assert contact.record == record.replace(changes)
        assert engine.run(db, url, "import", options=RunOptions(yes=True)).plan.changes() == 0
    finally:
        db.close()


def test_csv_values_no_person_holds_are_named_in_the_report_and_kept(
    tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "outlook.csv"
    header = '"First Name","Last Name","Pager","Hobby","User 1","Priority","Sensitivity"\r\n'
    path.write_bytes(
        (header + '"Ann","Lee","555-0199","Sailing","Member #7","Normal","Normal"\r\n').encode()
    )
    db = PersonsDB(db_url)
    try:
        imported = engine.run(db, f"csv:{path}", "import", options=RunOptions(yes=True))
        assert imported.report is not None
        warnings = imported.report.warnings
        assert [w.split(": ", 1)[1] for w in warnings] == [
            "Hobby 'Sailing': not synced (no Person field; kept in the file)",
            "User 1 'Member #7': not synced (no Person field; kept in the file)",
        ], warnings  # Outlook's "unset" Priority and Sensitivity are not worth a word
        (person,) = db.iter_persons()
        assert person.record == Record(first_name="Ann", last_name="Lee", pager="555-0199")
        db.update(person.id, {"pager": "555-0100"})
        engine.run(db, f"csv:{path}", "export", options=RunOptions(yes=True))
        text = path.read_bytes().decode("utf-8-sig")
        assert '"Sailing"' in text and '"Member #7"' in text and '"555-0100"' in text
    finally:
        db.close()
