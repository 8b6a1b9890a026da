"""The console's "take a side" against the folder's field rules (issue 12): a field whose
direction rule bars the side taken is refused and stays in the queue, its run page says why;
the pair's other fields are settled."""

from __future__ import annotations

import re
from typing import Any

from decisions_data import CONFLICTED, folder_to_decide
from web_client import Console

from personsync.persons.repo import PersonsDB
from personsync.sync import engine, journal
from personsync.sync.options import RunOptions
from personsync.sync.settings import set_rule


def test_a_pair_taken_whole_keeps_the_field_a_rule_refuses_in_the_queue(
    console: Console, db: PersonsDB, out: str
) -> None:
    folder_to_decide(db, out)
    listed = engine.run(db, out, "sync", options=RunOptions(yes=True))
    assert listed.report is not None
    folder = listed.report.folder
    set_rule(db.engine, folder, "business_phone", flow="to-outlook")
    keys = sorted(
        set(
            re.findall(
                r'name="key" value="(\d+\|[^"]*\|conflict:[a-z_]+)"', console.get("/decisions").text
            )
        )
    )
    assert sorted(k.rsplit(":", 1)[1] for k in keys) == ["business_phone", "company"]
    got: Any = console.submit(
        "/decisions/resolve",
        {"folder": folder, "person_id": str(CONFLICTED), "key": keys, "take": "outlook"},
    )
    assert got.status_code == 303
    person = db.get(CONFLICTED).record
    assert person.company == "Outlook Side Ltd"
    assert person.business_phone == "+1 617 555 0101"  # the CRM owns it: not taken
    page = console.get("/decisions").text
    assert "conflict:company" not in page and "conflict:business_phone" in page
    run = got.headers["location"]
    shown = console.get(run).text
    assert "business_phone flows to Outlook only" in shown, shown
    assert journal.get_run(db.engine, run.rsplit("/", 1)[1]).status == "done"
