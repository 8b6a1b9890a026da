"""The real sync engine exports 2,000 Persons (the real PersonsDB on SQLite) into a `graph:`
folder on the test server, signed in through msal and configured from the environment like a
person would; request counts checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from graph_support import (
    FAST,
    USER,
    export_until_converged,
    faulty_server,
    make_server,
    sign_in,
)

from personsync.graph.config import STORE_DEFAULTS
from personsync.graph.testserver import GraphTestServer
from personsync.graph.testserver.limits import Faults, ServerConfig
from personsync.model import Record
from personsync.persons.repo import PersonsDB
from personsync.sync import engine
from personsync.sync.options import RunOptions

N = 2000


def graph_requests(srv: GraphTestServer) -> int:
    return srv.graph_requests()


def test_engine_export_of_2000_then_no_op_runs(
    server: GraphTestServer,
    request: pytest.FixtureRequest,
    signed_in_db: PersonsDB,
) -> None:
    db = signed_in_db
    ids = db.add_many(
        [
            Record(first_name=f"F{i}", last_name=f"L{i}", email1=f"p{i}@example.org")
            for i in range(N)
        ]
    )
    before = graph_requests(server)
    first = engine.run(db, "graph:Contacts/CRM", "export", options=RunOptions(yes=True))
    assert first.report is not None and first.report.counts["create-contact"] == N
    writes = graph_requests(server) - before
    batches = sum(1 for _, path, inner, _ in server.api.log if path == "/$batch")
    assert N <= writes <= N + 20  # one write per contact and a handful more
    assert batches <= N // 20 + 3
    box = server.mailbox(USER)
    cids = sorted(int(c.ext["string 0x3a4a"]["value"]) for c in box.contacts.values())
    assert cids == sorted(ids)  # each Person once, linked by Customer ID

    second_start = graph_requests(server)
    second = engine.run(db, "graph:Contacts/CRM", "export")
    assert second.plan.changes() == 0
    # Folder look-up and one delta round (it still reports the contacts we created): no
    # per-contact request.
    assert graph_requests(server) - second_start <= 3 + N // 200 + 1
    third_start = graph_requests(server)
    engine.run(db, "graph:Contacts/CRM", "export")
    assert graph_requests(server) - third_start <= 4  # folder look-up + one delta request

    db.update(ids[5], {"job_title": "Boss"})
    db.update(ids[6], {"job_title": "Boss"})
    fourth_start = graph_requests(server)
    fourth = engine.run(db, "graph:Contacts/CRM", "export")
    assert fourth.plan.counts()["update-contact"] == 2
    assert graph_requests(server) - fourth_start <= 4 + 2 * 2  # O(k): read and write each
    assert len(box.contacts) == N


def test_engine_runs_converge_through_faults(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> None:
    faults = Faults(seed=5, rates={"429": 0.05, "503": 0.05, "drop_after": 0.04, "slow": 0.02})
    srv = faulty_server(faults, budget=300, slow_seconds=0.5)
    # Stores the engine opens get fast retries and a short timeout (the server is local).
    monkeypatch.setitem(STORE_DEFAULTS, "retry", FAST)
    monkeypatch.setitem(STORE_DEFAULTS, "timeout", 0.3)
    with srv.serve():
        sign_in(srv, tmp_path, monkeypatch)
        db = PersonsDB(sqlite_url)
        request.addfinalizer(db.close)
        ids = db.add_many(
            [Record(first_name=f"F{i}", last_name="L", notes=f"n{i}") for i in range(300)]
        )
        export = partial(
            engine.run, db, "graph:Contacts/CRM", "export", options=RunOptions(yes=True)
        )
        assert export_until_converged(export, 6), "the runs did not converge"
        box = srv.mailbox(USER)
        cids = Counter(c.ext["string 0x3a4a"]["value"] for c in box.contacts.values())
        assert sorted(int(c) for c in cids.elements()) == sorted(ids)  # each Person once
        notes = {
            c.ext["string 0x3a4a"]["value"]: c.data["personalNotes"] for c in box.contacts.values()
        }
        assert all(notes[str(i)] == f"n{n}" for n, i in enumerate(ids))
        assert {f for f, _ in faults.injected} >= {"drop_after", "slow", "drop_before", "504"}


def test_a_run_hears_its_own_waits_and_the_cli_sets_no_default_for_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """Outlook asks the run to slow down (its upload budget): the run's own listener hears each
    wait as a `Waiting` event. No process-wide default carries a listener: the CLI, imported,
    changes no store option, so one run's waits never reach another run of the process."""
    import personsync.cli.graph_cmds  # noqa: F401  (the commands as the CLI loads them)

    assert STORE_DEFAULTS == {}
    from personsync.sync.events import RunEvent, Waiting

    srv = make_server(ServerConfig(upload_budget=25_000, upload_window=1.0))
    monkeypatch.setitem(STORE_DEFAULTS, "retry", FAST)
    heard: list[RunEvent] = []
    with srv.serve():
        sign_in(srv, tmp_path, monkeypatch)
        db = PersonsDB(sqlite_url)
        request.addfinalizer(db.close)
        db.add_many([Record(first_name=f"F{i}", last_name="L", notes="x" * 400) for i in range(60)])
        out = engine.run(
            db, "graph:Contacts/CRM", "export", options=RunOptions(yes=True), on_event=heard.append
        )
    assert out.report is not None and out.report.counts["create-contact"] == 60
    waits = [e for e in heard if isinstance(e, Waiting)]
    assert waits and any("HTTP 429" in w.reason for w in waits), heard
    assert all(w.seconds >= 0 for w in waits)


@contextmanager
def _one_exported(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[GraphTestServer, Faults, PersonsDB, int, str]]:
    """A test server whose faults a test adds, signed in, and one Person exported to
    graph:Contacts/CRM: (server, faults, database, the Person, its contact)."""
    faults = Faults()
    srv = make_server(faults=faults)
    monkeypatch.setitem(STORE_DEFAULTS, "retry", FAST)
    with srv.serve():
        sign_in(srv, tmp_path, monkeypatch)
        db = PersonsDB(sqlite_url)
        request.addfinalizer(db.close)
        (pid,) = db.add_many([Record(first_name="Ada", last_name="Lovelace")])
        first = engine.run(db, "graph:Contacts/CRM", "export", options=RunOptions(yes=True))
        assert first.report is not None
        (item,) = srv.mailbox(USER).contacts
        yield srv, faults, db, pid, item


def test_undo_link_and_unlink_hear_their_folders_waits(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """`undo`, `link` and `unlink` open the folder with their caller's listener, as runs do: a
    throttled Graph folder's waits are `Waiting` events, not silence (until 2026-12-06 they
    opened it without one)."""
    from personsync.sync import manual
    from personsync.sync.events import RunEvent, Waiting
    from personsync.sync.undo import undo

    folder = "graph:Contacts/CRM"
    with _one_exported(tmp_path, monkeypatch, sqlite_url, request) as (srv, faults, db, pid, item):
        runs: list[str] = []
        for call in (
            lambda tell: manual.unlink(db, folder, person_id=pid, on_event=tell),
            lambda tell: runs.append(manual.link(db, pid, folder, item, on_event=tell).run_id),
            lambda tell: undo(db, runs[0], options=RunOptions(yes=True), on_event=tell),
        ):
            heard: list[RunEvent] = []
            faults.add("GET /v1.0/", "429", times=2)  # its next two reads are throttled
            call(heard.append)
            waits = [e for e in heard if isinstance(e, Waiting)]
            assert waits and all("429" in w.reason for w in waits), heard
    assert srv.mailbox(USER).contacts[item].ext["string 0x3a4a"]["value"] == ""  # link undone


def test_the_consoles_decisions_profiles_and_the_clis_resolve_say_their_folders_waits(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The web console's decisions (link, ignore, create new, resolve: each answered in its
    own request) and its scheduler's profile runs log a throttled Graph folder's waits, naming
    what waits; `personsync resolve` and `profiles run` say them on stderr, as `link` and
    `unlink` do (until 2026-12-06 all of these passed no listener, and waited without a
    word)."""
    import logging
    import re
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient
    from sqlalchemy import update
    from typer.testing import CliRunner

    from personsync.cli import app as cli_app
    from personsync.profiles import store
    from personsync.profiles.store import Profile
    from personsync.profiles.tables import sync_profiles
    from personsync.web.app import create_app
    from personsync.web.scheduler import Scheduler

    folder = "graph:Contacts/CRM"
    with _one_exported(tmp_path, monkeypatch, sqlite_url, request) as (srv, faults, db, pid, item):
        with TestClient(create_app(db.url, schedule=False)) as web:
            token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/settings").text)
            assert token
            for decision, form in (
                ("link", {"person_id": str(pid), "item_id": item}),
                ("ignore", {"item_id": item}),
                ("create", {"person_id": str(pid)}),
                ("resolve", {"person_id": str(pid), "take": "crm"}),
            ):
                caplog.clear()
                faults.add("GET /v1.0/", "429", times=2)  # its next two reads are throttled
                with caplog.at_level(logging.WARNING, logger="personsync.web.tasks"):
                    got = web.post(
                        f"/decisions/{decision}",
                        data={"folder": folder, "key": "k", "csrf_token": token.group(1), **form},
                        follow_redirects=False,
                    )
                assert got.status_code == 303, (decision, got.text)
                name = "create new" if decision == "create" else decision
                said = [r.getMessage() for r in caplog.records]
                assert any(
                    m.startswith(f"{name} in {folder}: The folder asked to slow down: waiting")
                    and "429" in m
                    for m in said
                ), (decision, said)
        # Ada's new contact (made by "create new") and the ignored one, now unlinked.
        assert len(srv.mailbox(USER).contacts) == 2

        faults.add("GET /v1.0/", "429", times=2)
        said = CliRunner().invoke(
            cli_app,
            ["resolve", str(pid), "--folder", folder, "--take", "crm", "--db", db.url],
        )
        assert said.exit_code == 0, said.output
        assert "waiting" in said.output and "429" in said.output, said.output

        # A profile: run by the console's scheduler (unattended: its waits go to the log), and
        # by `personsync profiles run` (on stderr).
        store.save(db, Profile("Ada", "export", folder, "All Persons", 100.0, every_minutes=5))
        with db.engine.begin() as conn:
            conn.execute(update(sync_profiles).values(next_run_at=datetime.now(UTC)))
        db.update(pid, {"job_title": "Countess"})
        caplog.clear()
        faults.add("GET /v1.0/", "429", times=2)
        with caplog.at_level(logging.WARNING, logger="personsync.web.tasks"):
            [ran] = Scheduler(db).run_once()
        assert ran.status == "clean", ran
        said_ = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("profile Ada: The folder asked to slow down") for m in said_)
        db.update(pid, {"job_title": "Analyst"})
        faults.add("GET /v1.0/", "429", times=2)
        said = CliRunner().invoke(cli_app, ["profiles", "run", "Ada", "--db", db.url])
        assert said.exit_code == 0, said.output
        assert "waiting" in said.output and "429" in said.output, said.output
