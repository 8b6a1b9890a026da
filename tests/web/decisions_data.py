"""A folder with something of each kind to decide: two copies of one Person's contact, and a
Person whose company and phone were changed in the CRM and in Outlook since the last run."""

from __future__ import annotations

from dataclasses import replace

from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.stores import open_folder
from personsync.stores.base import get_one
from personsync.sync import engine
from personsync.sync.options import RunOptions

COPIED, CONFLICTED = 5, 8


def folder_to_decide(db: PersonsDB, folder: str) -> list[str]:
    """Export every Person into `folder`, then make the decisions; the copies' item ids."""
    engine.run(db, folder, "export", options=RunOptions(yes=True))
    db.update(CONFLICTED, {"company": "CRM Side Ltd", "business_phone": "+1 617 555 0101"})
    contacts = open_folder(folder, create=False)
    try:
        original = get_one(contacts, db.get(COPIED).contact_manager_id or "")
        assert original is not None and original.customer_id == str(COPIED)
        copies = [
            contacts.create(
                Contact(
                    original.record.replace({"first_name": f"Copy{n}", "email1": f"c{n}@x.org"}),
                    customer_id=original.customer_id,
                )
            ).item_id
            for n in (1, 2)
        ]
        edited = get_one(contacts, db.get(CONFLICTED).contact_manager_id or "")
        assert edited is not None
        changes = {"company": "Outlook Side Ltd", "business_phone": "+1 617 555 0202"}
        contacts.update(edited, replace(edited, record=edited.record.replace(changes)))
    finally:
        contacts.close()
    return copies
