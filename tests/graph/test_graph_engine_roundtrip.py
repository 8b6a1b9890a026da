"""Import and the wizard against the Graph test server, and a 2,000-contact export that converges
through throttling, 503s, dropped connections, slow answers and delta resets.

Everything goes through the real HTTP stack on loopback, signed in with msal like a person, with
the real PersonsDB on SQLite.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from graph_support import (
    FAST,
    USER,
    export_until_converged,
    faulty_server,
    open_graph,
    sign_in,
)
from typer.testing import CliRunner

from personsync.cli import app
from personsync.graph.config import STORE_DEFAULTS
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import Faults
from personsync.model import Contact, Record
from personsync.persons.repo import PersonsDB
from personsync.stores.base import read_all
from personsync.sync import engine
from personsync.sync.options import RunOptions

FOLDER = "graph:Contacts/CRM Members"


def _customer_ids(srv: GraphTestServer) -> Counter[str]:
    box = srv.mailbox(USER)
    return Counter(
        c.ext["string 0x3a4a"]["value"] for c in box.contacts.values() if "string 0x3a4a" in c.ext
    )


def test_import_brings_outlook_edits_and_new_contacts_into_persons(
    server: GraphTestServer,
    signed_in_db: PersonsDB,
) -> None:
    db = signed_in_db
    ids = db.add_many(
        [
            Record(first_name=f"Ann{i}", last_name="Lee", email1=f"ann{i}@example.org")
            for i in range(40)
        ]
    )
    engine.run(db, FOLDER, "export", options=RunOptions(yes=True))

    # In Outlook: one contact's job title changed, and a new contact typed in (no Customer ID).
    outlook = open_graph(server, "Contacts/CRM Members")
    contacts = {c.customer_id: c for c in read_all(outlook) if isinstance(c, Contact)}
    edited = contacts[str(ids[3])]
    outlook.update(edited, Contact(edited.record.replace({"job_title": "Treasurer"})))
    outlook.create(Contact(Record(first_name="Zoë", last_name="Neu", email1="zoe@example.org")))

    result = engine.run(db, FOLDER, "import", options=RunOptions(yes=True))
    counts = result.plan.counts()
    assert counts["update-person"] == 1 and counts["create-person"] == 1
    assert db.get(ids[3]).record.job_title == "Treasurer"
    (zoe,) = db.find_by_email("zoe@example.org")
    assert zoe.record.first_name == "Zoë"
    # Both halves of the new link: the new contact now carries the new Person's id.
    assert _customer_ids(server)[str(zoe.id)] == 1
    assert db.count() == 41

    again = engine.run(db, FOLDER, "import", options=RunOptions(yes=True))
    assert again.plan.changes() == 0
    assert db.count() == 41


def test_wizard_and_cli_run_unattended_against_graph(
    server: GraphTestServer,
    sqlite_url: str,
    signed_in_db: PersonsDB,
) -> None:
    db = signed_in_db
    ids = db.add_many([Record(first_name=f"P{i}", last_name="Q") for i in range(25)])
    runner = CliRunner()
    wizard_args = ["wizard", "--direction", "export", "--folder", FOLDER, "--view", "All Persons"]
    wizard = runner.invoke(app, [*wizard_args, "--yes", "--db", sqlite_url])
    assert wizard.exit_code == 0, wizard.output
    assert sorted(int(c) for c in _customer_ids(server).elements()) == sorted(ids)

    dry = runner.invoke(app, ["import", "--from", FOLDER, "--db", sqlite_url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    back = runner.invoke(app, ["import", "--from", FOLDER, "--db", sqlite_url, "--yes"])
    assert back.exit_code == 0, back.output
    assert db.count() == 25  # linked: nothing created twice


@pytest.mark.slow
def test_export_of_2000_converges_through_faults_and_delta_resets(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> None:
    faults = Faults(
        seed=11,
        rates={"429": 0.03, "503": 0.03, "drop_after": 0.02, "slow": 0.01, "gone": 0.5},
    )
    faults.add("deltatoken", "gone")  # at least one reset, whatever the random draws
    srv = faulty_server(faults, budget=2000, slow_seconds=0.3)
    monkeypatch.setitem(STORE_DEFAULTS, "retry", FAST)
    monkeypatch.setitem(STORE_DEFAULTS, "timeout", 0.2)
    with srv.serve():
        sign_in(srv, tmp_path, monkeypatch)
        db = PersonsDB(sqlite_url)
        request.addfinalizer(db.close)
        ids = db.add_many(
            [Record(first_name=f"F{i}", last_name="L", notes=f"n{i}") for i in range(2000)]
        )
        export = partial(engine.run, db, FOLDER, "export", options=RunOptions(yes=True))
        assert export_until_converged(export, 8), "the runs did not converge"
        # Change some Persons, then keep syncing while delta links keep being reset.
        for i in ids[:50]:
            db.update(i, {"notes": f"changed {i}"})
        assert export_until_converged(export, 8), "the runs did not converge after changes"
        box = srv.mailbox(USER)
        cids = _customer_ids(srv)
        assert sorted(int(c) for c in cids.elements()) == sorted(ids)  # each Person once
        notes = {
            c.ext["string 0x3a4a"]["value"]: c.data["personalNotes"] for c in box.contacts.values()
        }
        for n, i in enumerate(ids):
            assert notes[str(i)] == (f"changed {i}" if n < 50 else f"n{n}")
        injected = {f for f, _ in faults.injected}
        assert {"gone", "drop_after", "drop_before", "504", "429"} <= injected
