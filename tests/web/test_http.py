"""The console's HTTP endpoints without a browser: pages, the wizard's plan and run, errors beside
their fields, CSRF, sign-in, headers, progress events."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from web_client import Console

from personsync.cli import app as cli_app
from personsync.errors import ConfigError
from personsync.persons.repo import PersonsDB
from personsync.profiles import store
from personsync.sync import journal
from personsync.web import security
from personsync.web.app import create_app


def errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="([\w-]+)-error" role="alert">([^<]*)</p>', html))


def plan_answers(out: str, **more: str) -> dict[str, str]:
    return {"direction": "export", "folder": out, "view": "All Persons", "max_change": "50", **more}


def finish_run(console: Console, plan_url: str, **form: str) -> str:
    """Finish a plan, wait for the task; the run id."""
    got: Any = console.submit(plan_url + "/finish", form)
    assert got.status_code == 303, got.text
    task = got.headers["location"]
    for _ in range(100):
        page = console.get(task).text
        found = re.search(r'href="/runs/([\w-]+)">See the run report', page)
        if found:
            return found.group(1)
        assert 'data-phase="failed"' not in page, page
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def make_plan(console: Console, answers: dict[str, str]) -> str:
    got: Any = console.submit("/sync/plan", answers)
    assert got.status_code == 303, got.text
    return str(got.headers["location"])


def test_every_page_answers_with_the_security_headers(console: Console, db: PersonsDB) -> None:
    for url in (
        "/persons",
        "/views/All Persons",
        "/persons/1",
        "/sync",
        "/runs",
        "/decisions",
        "/profiles",
        "/profiles/new",
        "/settings",
    ):
        got = console.get(url)
        assert got.status_code == 200, url
        assert "script-src 'self'" in got.headers["content-security-policy"]
        assert got.headers["x-frame-options"] == "DENY"
        assert "<script>" not in got.text and " style=" not in got.text  # nothing inline
    assert console.get("/static/htmx-2.0.11.min.js").status_code == 200


def test_a_view_is_paged_and_searched(console: Console, db: PersonsDB) -> None:
    first = console.get("/views/All Persons").text
    assert "Persons 1–50 of 120" in first
    third = console.get("/views/All Persons?page=3").text
    assert "Persons 101–120 of 120" in third
    someone = db.get(7)
    found = console.get(f"/views/All Persons?q={someone.record.last_name}").text
    assert 'href="/persons/7"' in found
    partial = console.get("/views/All Persons?page=2", headers={"HX-Request": "true"}).text
    assert partial.startswith('\n<section id="persons-table"') or partial.lstrip().startswith(
        "<section"
    )
    assert "<html" not in partial


def test_a_filter_with_a_typo_is_named_beside_the_field_which_keeps_it(console: Console) -> None:
    got = console.get('/views/All Persons?filter=cty = "Boston"')
    assert "unknown field &#39;cty&#39;" in errors(got.text)["filter"]
    assert "did you mean city" in errors(got.text)["filter"]
    assert 'value="cty = &#34;Boston&#34;"' in got.text


def test_an_unknown_view_is_a_page_saying_so(console: Console) -> None:
    got = console.get("/views/Nobody")
    assert got.status_code == 404 and "no view named &#39;Nobody&#39;" in got.text


def test_a_persons_page_has_its_fields_and_links(console: Console, db: PersonsDB, out: str) -> None:
    run = finish_run(console, make_plan(console, plan_answers(out)))
    assert journal.get_run(db.engine, run).counts["create-contact"] == 120
    page = console.get("/persons/5").text
    person = db.get(5)
    assert person.record.first_name in page and person.contact_manager_id
    assert person.contact_manager_id in page  # the hidden link
    assert "Links to contacts" in page and "/out" in page


def test_a_post_without_the_csrf_token_is_refused(
    console: Console, out: str, tmp_path: Path
) -> None:
    got = console.post("/sync/plan", data=plan_answers(out))
    assert got.status_code == 403
    got = console.post("/sync/plan", data={**plan_answers(out), "csrf_token": "forged"})
    assert got.status_code == 403
    got = console.post("/profiles/new", data={"name": "x"}, headers={"X-CSRF-Token": "forged"})
    assert got.status_code == 403
    assert not (tmp_path / "out").exists()
    # The header htmx sends is as good as the form field.
    got = console.post(
        "/sync/plan",
        data=plan_answers(out),
        headers={"X-CSRF-Token": console.token()},
        follow_redirects=False,
    )
    assert got.status_code == 303


def test_the_wizard_names_a_wrong_folder_beside_the_field(console: Console, tmp_path: Path) -> None:
    missing = f"vcf:{tmp_path}/nowhere"
    got = console.get(f"/sync?step=options&direction=import&folder={missing}")
    assert got.status_code == 200
    assert "no folder" in errors(got.text)["folder"]
    assert f'value="{missing}"' in got.text  # what the person typed is kept
    got = console.get("/sync?step=view&direction=export&folder=ftp:x")
    assert "unknown contact folder" in errors(got.text)["folder"]
    got: Any = console.submit("/sync/plan", plan_answers(f"vcf:{tmp_path}/o", view="Nobody"))
    assert got.status_code == 422 and "no view named" in errors(got.text)["view"]


def test_the_plan_is_paged_and_filtered(console: Console, db: PersonsDB, out: str) -> None:
    plan = make_plan(console, plan_answers(out))
    page = console.get(plan).text
    assert re.search(r"New contacts</a></th><td class=\"num\">120<", page)
    assert "Actions 1–50 of 120" in page
    second = console.get(plan + "?kind=create-contact&page=3", headers={"HX-Request": "true"}).text
    assert "Actions 101–120 of 120" in second and "<html" not in second
    finish_run(console, plan)
    db.update(3, {"company": "Renamed Ltd"})
    page = console.get(make_plan(console, plan_answers(out))).text
    old = re.search(
        r'<th scope="row">Company</th><td class="old">([^<]*)</td><td class="new">([^<]*)', page
    )
    assert old and old.group(2) == "Renamed Ltd"


def test_the_mass_change_guard_is_a_confirmation_step(
    console: Console, db: PersonsDB, out: str
) -> None:
    finish_run(console, make_plan(console, plan_answers(out)))
    db.update_many([(pid, {"department": "Guarded Dept"}) for pid in db.versions()])
    plan = make_plan(console, plan_answers(out, max_change="10"))
    assert (
        "Mass-change guard: this run would create or change 120 of the 120"
        in console.get(plan).text
    )
    got: Any = console.submit(plan + "/finish")
    assert got.status_code == 200 and 'name="confirmed" value="yes"' in got.text
    assert "120 of the 120 contacts" in got.text
    assert [r.command for r in journal.list_runs(db.engine)] == ["export"]  # nothing ran
    run = finish_run(console, plan, confirmed="yes")
    assert journal.get_run(db.engine, run).counts["update-contact"] == 120


def test_undo_shows_its_plan_first_then_undoes(
    console: Console, db: PersonsDB, out: str, tmp_path: Path
) -> None:
    run = finish_run(console, make_plan(console, plan_answers(out)))
    preview = console.get(f"/runs/{run}/undo").text
    assert "What undo will try to put back (120)" in preview and "delete it" in preview
    assert len(list((tmp_path / "out").glob("*.vcf"))) == 120  # the preview wrote nothing
    got: Any = console.submit(f"/runs/{run}/undo")
    assert got.status_code == 303
    for _ in range(100):
        if not list((tmp_path / "out").glob("*.vcf")):
            break
        time.sleep(0.1)
    assert not list((tmp_path / "out").glob("*.vcf"))
    assert journal.list_runs(db.engine)[0].command == "undo"


def test_progress_events_arrive_at_least_every_second(console: Console, out: str) -> None:
    got: Any = console.submit(make_plan(console, plan_answers(out)) + "/finish")
    times, names = [], []
    with console.stream("GET", got.headers["location"] + "/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                times.append(time.monotonic())
                names.append(line[7:])
    assert names[-1] == "done" and "progress" in names
    assert all(b - a < 1.0 for a, b in itertools.pairwise(times))


def test_a_runs_page_says_while_its_folder_makes_it_wait(console: Console) -> None:
    """A run started from the console whose folder asks it to slow down (a throttled Graph
    folder: a `Waiting` event) says so on its page until it writes again (until 2026-12-06 the
    task heard the event and showed nothing)."""
    import threading

    from personsync.sync.events import Progress, Waiting
    from personsync.web.tasks import Task

    web = console.app.state.web
    told, wrote, release = threading.Event(), threading.Event(), threading.Event()

    def work(task: Task) -> None:
        task.hear(Progress(10, 10, 40))
        task.hear(Waiting(12.5, "the service answered HTTP 429"))
        told.set()
        wrote.wait(10)
        task.hear(Progress(10, 20, 40))
        release.set()

    task = web.tasks.start("Export: graph:Contacts/CRM", work)
    assert told.wait(10)
    page = console.get(f"/tasks/{task.id}").text
    said = "The folder asked to slow down: waiting 12.5 s (the service answered HTTP 429)."
    assert said in page and "Writing 10 of 40" in page
    wrote.set()
    assert release.wait(10)
    page = console.get(f"/tasks/{task.id}").text
    assert said not in page and ("Writing 20 of 40" in page or "Done." in page)


def test_a_profile_form_names_wrong_fields_and_keeps_the_input(
    console: Console, db: PersonsDB, out: str
) -> None:
    form = {
        "name": "Members",
        "direction": "export",
        "folder": "ftp:x",
        "view": "All Persons",
        "max_change": "50",
        "schedule": "cron",
        "cron": "every day",
        "enabled": "on",
    }
    got: Any = console.submit("/profiles/new", form)
    assert got.status_code == 422
    found = errors(got.text)
    assert "unknown contact folder" in found["folder"] and "not a cron expression" in found["cron"]
    assert 'value="every day"' in got.text and 'value="ftp:x"' in got.text
    got = console.submit("/profiles/new", {**form, "folder": out, "cron": "*/5 * * * *"})
    assert got.status_code == 303
    profile = store.get(db.engine, "Members")
    assert (profile.cron, profile.folder, profile.enabled) == ("*/5 * * * *", out, True)
    db.create_view("Gone", "")
    got = console.submit(
        "/profiles/Members/edit",
        {
            **form,
            "folder": out,
            "cron": "",
            "schedule": "every",
            "every_minutes": "10",
            "view": "Gone",
        },
    )
    assert got.status_code == 303 and store.get(db.engine, "Members").every_minutes == 10
    db.delete_view("Gone")
    page = console.get("/profiles/Members/edit").text
    assert "Gone (missing)" in page
    got = console.submit("/profiles/Members/run")
    for _ in range(100):
        if store.get(db.engine, "Members").last_status:
            break
        time.sleep(0.1)
    assert store.get(db.engine, "Members").last_status == "failed"
    assert "no view named &#39;Gone&#39;" in console.get("/profiles").text
    assert console.submit("/profiles/Members/delete").status_code == 303
    assert store.list_profiles(db.engine) == []


def test_a_decision_is_settled_from_the_queue(
    console: Console, db: PersonsDB, tmp_path: Path
) -> None:
    from personsync.model import Contact
    from personsync.stores import open_folder

    folder = f"vcf:{tmp_path}/shared"
    person = db.get(9)
    store_ = open_folder(folder)
    try:
        for _ in range(2):  # two copies of the same contact, neither linked
            store_.create(Contact(person.record))
    finally:
        store_.close()
    # 120 new contacts in a folder of 2: the guard asks, and the person confirms.
    run = finish_run(console, make_plan(console, plan_answers(folder)), confirmed="yes")
    assert journal.get_run(db.engine, run).counts["decide"] >= 1
    page = console.get("/decisions").text
    assert person.record.last_name in page and "matches 2 contacts" in page
    item = re.search(r'name="item_id" value="([^"]+)"', page)
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert item and key
    got: Any = console.submit(
        "/decisions/link",
        {
            "folder": journal.get_run(db.engine, run).folder,
            "key": key.group(1),
            "person_id": "9",
            "item_id": item.group(1),
        },
    )
    assert got.status_code == 303
    assert db.get(9).contact_manager_id == item.group(1)
    assert "matches 2 contacts" not in console.get("/decisions").text


def test_beyond_loopback_it_needs_a_password_then_a_sign_in(db: PersonsDB) -> None:
    with pytest.raises(ConfigError, match="without a password"):
        create_app(db.url, host="0.0.0.0", schedule=False)
    security.set_password(db.engine, "correct horse battery")
    with Console(create_app(db.url, host="0.0.0.0", schedule=False)) as client:
        got = client.get("/persons", follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/login"
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        wrong = client.post("/login", data={"password": "nope", "csrf_token": token.group(1)})
        assert wrong.status_code == 401 and "not the administrator password" in wrong.text
        assert client.post("/login", data={"password": "correct horse battery"}).status_code == 403
        right = client.post(
            "/login",
            data={"password": "correct horse battery", "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert right.status_code == 303
        assert client.get("/persons").status_code == 200
        cookie = right.headers["set-cookie"]
        assert "correct horse" not in cookie and "httponly" in cookie.lower()
    # The hash is stored, never the password.
    from sqlalchemy import select

    from personsync.profiles.tables import web_settings

    with db.engine.connect() as conn:
        stored = conn.execute(
            select(web_settings.c.value).where(web_settings.c.key == security.PASSWORD_KEY)
        ).scalar_one()
    assert stored.startswith("$argon2") and "correct horse" not in stored


def test_serve_refuses_a_public_address_without_a_password(db: PersonsDB) -> None:
    got = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--db", db.url])
    assert got.exit_code == 1
    said = " ".join(got.output.split())
    assert "without a password" in said and "--set-password" in said
    got = CliRunner().invoke(
        cli_app, ["serve", "--set-password", "--db", db.url], input="s3cret-pass\ns3cret-pass\n"
    )
    assert got.exit_code == 0, got.output
    assert security.check_password(db.engine, "s3cret-pass")
    assert not security.check_password(db.engine, "other")


def test_a_views_pages_follow_every_change(console: Console, db: PersonsDB) -> None:
    db.create_view("By name", "last_name is not empty", "last_name, first_name")
    named = db.count("By name")
    assert f"of {named}" in console.get("/views/By name").text
    db.update(50, {"last_name": "Aaaa-first"})  # now sorts first
    first = console.get("/views/By name").text
    assert re.search(r'<tbody>\s*<tr><td><a href="/persons/50">', first)
    (new,) = db.add_many([db.get(1).record.replace({"last_name": "Zzzz-last"})])
    last = console.get(f"/views/By name?page={(named + 50) // 50}").text
    assert f"of {named + 1}" in last and f'href="/persons/{new}"' in last
    db.delete(new)
    assert f"of {named}" in console.get("/views/By name").text
    db.create_view("By name", "company is not empty", "last_name", replace=True)
    assert f"of {db.count('By name')}" in console.get("/views/By name").text


def test_both_ways_with_a_conflict_policy(
    console: Console, db: PersonsDB, out: str, tmp_path: Path
) -> None:
    from personsync.stores import open_folder

    run = finish_run(console, make_plan(console, plan_answers(out)))
    assert journal.get_run(db.engine, run).counts["create-contact"] == 120
    person = db.get(8)
    db.update(8, {"company": "CRM Side Ltd"})
    folder = open_folder(out)
    try:
        contact = next(
            c for c in folder.get_many([person.contact_manager_id or ""]) if hasattr(c, "record")
        )
        folder.update(
            contact,
            contact.__class__(
                contact.record.replace({"company": "Outlook Side Ltd"}),
                contact.item_id,
                contact.version,
                contact.customer_id,
            ),
        )
    finally:
        folder.close()
    page = console.get(f"/sync?step=options&direction=sync&folder={out}&view=All Persons").text
    assert 'id="on_conflict"' in page and "Both ways" in console.get("/sync").text
    plan = make_plan(console, plan_answers(out, direction="sync", on_conflict="outlook"))
    shown = console.get(plan + "?kind=update-person").text
    assert "CRM Side Ltd" in shown and "Outlook Side Ltd" in shown
    finish_run(console, plan)
    assert db.get(8).record.company == "Outlook Side Ltd"


def test_a_profiles_conflict_policy_is_edited_in_its_form(
    console: Console, db: PersonsDB, out: str
) -> None:
    form = {
        "name": "Both",
        "direction": "sync",
        "folder": out,
        "view": "All Persons",
        "max_change": "100",
        "schedule": "every",
        "every_minutes": "15",
        "on_conflict": "newest",
    }
    assert 'id="on_conflict"' in console.get("/profiles/new").text
    assert console.submit("/profiles/new", form).status_code == 303
    assert store.get(db.engine, "Both").options == {"on_conflict": "newest"}
    assert "the newer change wins" in console.get("/profiles").text
    page = console.get("/profiles/Both/edit").text
    assert re.search(r'<option value="newest"\s+selected>', page)
    got: Any = console.submit("/profiles/Both/edit", {**form, "on_conflict": "sideways"})
    assert got.status_code == 422 and "unknown option on_conflict=sideways" in got.text
    assert console.submit("/profiles/Both/edit", {**form, "on_conflict": "crm"}).status_code == 303
    assert store.get(db.engine, "Both").request.options == {"on_conflict": "crm"}


def test_decisions_link_create_new_ignore_and_take_a_side_per_field(
    console: Console, db: PersonsDB, out: str
) -> None:
    from dataclasses import replace

    from decisions_data import CONFLICTED, folder_to_decide

    from personsync.stores import open_folder
    from personsync.stores.base import get_one
    from personsync.sync.links import Links

    first, second = folder_to_decide(db, out)
    run = finish_run(console, make_plan(console, plan_answers(out, direction="sync")))
    folder = journal.get_run(db.engine, run).folder
    page = console.get("/decisions").text
    assert page.count("Create a new Person from this contact") == 2
    assert "CRM Side Ltd" in page and "Outlook Side Ltd" in page
    assert "+1 617 555 0101" in page and "+1 617 555 0202" in page

    def keys(pattern: str) -> str:
        found = re.search(pattern, console.get("/decisions").text)
        assert found, pattern
        return found.group(1)

    # Per field: Outlook's company, the CRM's phone.
    company = keys(r'name="key" value="(\d+\|[^"]*\|conflict:company)"')
    got: Any = console.submit(
        "/decisions/resolve",
        {
            "folder": folder,
            "person_id": str(CONFLICTED),
            "field": "company",
            "key": company,
            "take": "outlook",
        },
    )
    assert got.status_code == 303
    person = db.get(CONFLICTED)
    assert person.record.company == "Outlook Side Ltd"
    assert person.record.business_phone != "+1 617 555 0202"  # not settled yet: still both
    page = console.get("/decisions").text
    assert "conflict:company" not in page and "conflict:business_phone" in page
    phone = keys(r'name="key" value="(\d+\|[^"]*\|conflict:business_phone)"')
    console.submit(
        "/decisions/resolve",
        {
            "folder": folder,
            "person_id": str(CONFLICTED),
            "field": "business_phone",
            "key": phone,
            "take": "crm",
        },
    )
    contacts = open_folder(out, create=False)
    try:
        contact = get_one(contacts, person.contact_manager_id or "")
        assert contact is not None
        assert (contact.record.company, contact.record.business_phone) == (
            "Outlook Side Ltd",
            db.get(CONFLICTED).record.business_phone,
        )
    finally:
        contacts.close()
    assert "conflict:" not in console.get("/decisions").text

    # A copy becomes a Person of its own; the other is left alone by every later run.
    before = db.count()
    key = keys(rf'name="key" value="([^"]*\|{first}\|[^"]*)"')
    got = console.submit("/decisions/create", {"folder": folder, "key": key, "item_id": first})
    assert got.status_code == 303 and db.count() == before + 1
    new = Links(db.engine, folder).owner(first)
    assert new is not None and db.get(new).record.first_name == "Copy1"
    assert db.get(new).contact_manager_id == first
    key = keys(rf'name="key" value="([^"]*\|{second}\|[^"]*)"')
    got = console.submit("/decisions/ignore", {"folder": folder, "key": key, "item_id": second})
    assert got.status_code == 303
    assert "Nothing to decide" in console.get("/decisions").text
    again = finish_run(console, make_plan(console, plan_answers(out, direction="sync")))
    info = journal.get_run(db.engine, again)
    assert info.counts.get("decide", 0) == 0 and db.count() == before + 1
    assert not [p for p in info.problems if p.get("item_id") == second]
    # Settled once is not settled for ever: a new conflict on the same field shows again.
    db.update(CONFLICTED, {"company": "CRM Once More"})
    contacts = open_folder(out, create=False)
    try:
        contact = get_one(contacts, db.get(CONFLICTED).contact_manager_id or "")
        assert contact is not None
        edited = contact.record.replace({"company": "Outlook Once More"})
        contacts.update(contact, replace(contact, record=edited))
    finally:
        contacts.close()
    finish_run(console, make_plan(console, plan_answers(out, direction="sync")))
    page = console.get("/decisions").text
    assert "conflict:company" in page and "Outlook Once More" in page


def test_field_rules_are_shown_and_changed_from_the_wizard(
    console: Console, db: PersonsDB, out: str
) -> None:
    import json
    from urllib.parse import quote

    wizard = f"/sync?step=options&direction=sync&folder={quote(out)}&view=All+Persons"
    page = console.get(wizard).text
    assert 'formaction="/sync/rules"' in page and "Every field both ways" in page
    answers = plan_answers(out, direction="sync", on_conflict="crm")
    got: Any = console.submit("/sync/rules", answers)
    assert got.status_code == 303 and "csrf" not in got.headers["location"]
    page = console.get(got.headers["location"]).text
    assert 'name="flow-notes"' in page and 'name="fill-job_title"' in page
    back = re.search(r'name="back" value="([^"]+)"', page)
    assert back and back.group(1).replace("&amp;", "&").startswith("/sync?")
    form = {
        "folder": out,
        "back": back.group(1).replace("&amp;", "&"),
        "flow-notes": "to-outlook",
        "blank-company": "no",
        "fill-job_title": "on",
        "on_conflict": "crm",
    }
    got = console.submit("/rules", form)
    assert got.status_code == 303 and got.headers["location"].startswith("/sync?")
    assert "on_conflict=crm" in got.headers["location"]  # the wizard's answers kept
    shown = CliRunner().invoke(cli_app, ["rules", "show", out, "--json", "--db", db.url])
    found = json.loads(shown.output)
    keys = ("folder", "on_conflict", "on_person_removed", "on_contact_deleted", "crm_alone_creates")
    assert {k: found[k] for k in (*keys, "rules")} == {
        "folder": out,
        "on_conflict": "crm",
        # The delete settings, untouched by the wizard: the defaults.
        "on_person_removed": None,
        "on_contact_deleted": None,
        "crm_alone_creates": None,
        "rules": {
            "company": {"flow": "both", "never_blank": False, "fill_only_if_empty": False},
            "job_title": {"flow": "both", "never_blank": None, "fill_only_if_empty": True},
            "notes": {"flow": "to-outlook", "never_blank": None, "fill_only_if_empty": False},
        },
    }
    page = console.get(got.headers["location"]).text
    assert "Notes: CRM → Outlook only" in page and "Company: both ways, may blank out" in page
    # Back to the defaults for company; a link elsewhere is not followed.
    got = console.submit("/rules", {**form, "blank-company": "", "back": "//example.org/x"})
    assert got.headers["location"] == "/sync"
    shown = CliRunner().invoke(cli_app, ["rules", "show", out, "--json", "--db", db.url])
    assert set(json.loads(shown.output)["rules"]) == {"job_title", "notes"}
    assert console.get("/rules?folder=ftp:x").status_code == 400


def test_carddav_credentials_with_a_missing_field_are_named_and_never_echoed(
    console: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    got: Any = console.submit(
        "/settings/carddav", {"server": "https://dav.example.org/", "user": "", "secret": "pw-1"}
    )
    assert got.status_code == 422 and "needs a user name" in errors(got.text)["user"]
    assert 'value="https://dav.example.org/"' in got.text and "pw-1" not in got.text
    got = console.submit(
        "/settings/carddav", {"server": "ftp://dav.example.org/", "user": "bo", "secret": "pw-1"}
    )
    assert got.status_code == 422 and "not a CardDAV address" in errors(got.text)["server"]
    got = console.submit(
        "/settings/carddav", {"server": "https://dav.example.org/", "user": "bo", "secret": "pw-1"}
    )
    assert got.status_code == 303 and "pw-1" not in got.headers["location"]
    from personsync.stores.carddav_auth import find_credentials

    found = find_credentials("https://dav.example.org/", env={})
    assert found is not None and (found.user, found.password) == ("bo", "pw-1")
    page = console.get("/settings").text
    assert "dav.example.org" in page and "bo" in page and "pw-1" not in page
    assert (
        console.submit("/settings/carddav/forget", {"host": "dav.example.org"}).status_code == 303
    )
    assert find_credentials("https://dav.example.org/", env={}) is None


def test_create_new_from_the_queue_is_undone_by_undo(
    console: Console, db: PersonsDB, out: str
) -> None:
    from decisions_data import COPIED, folder_to_decide

    from personsync.jobs import engine_adapter
    from personsync.stores import open_folder
    from personsync.stores.base import get_one

    first, _ = folder_to_decide(db, out)
    run = finish_run(console, make_plan(console, plan_answers(out, direction="sync")))
    folder = journal.get_run(db.engine, run).folder
    key = re.search(rf'name="key" value="([^"]*\|{first}\|[^"]*)"', console.get("/decisions").text)
    assert key
    before = db.count()
    got: Any = console.submit(
        "/decisions/create", {"folder": folder, "key": key.group(1), "item_id": first}
    )
    made = got.headers["location"].rsplit("/", 1)[1]
    assert db.count() == before + 1
    report = engine_adapter.undo(db, made)
    assert report.counts.get("undone") == 2 and db.count() == before
    contacts = open_folder(out, create=False)
    try:
        copy = get_one(contacts, first)
        assert copy is not None and copy.customer_id == str(COPIED)  # as it was
    finally:
        contacts.close()


def test_linking_a_linked_person_elsewhere_asks_first(
    console: Console, db: PersonsDB, tmp_path: Path
) -> None:
    """The link moves the Person's link from its contact (issue #12): the console asks, and
    writes nothing until the person confirms."""
    from personsync.model import Contact, Record
    from personsync.stores import open_folder
    from personsync.sync import manual

    folder = f"vcf:{tmp_path}/moves"
    store_ = open_folder(folder)
    try:
        old = store_.create(Contact(db.get(9).record)).item_id
        item = store_.create(Contact(Record(first_name="Other"))).item_id
    finally:
        store_.close()
    manual.link(db, 9, folder, old)
    form = {"folder": folder, "key": "", "person_id": "9", "item_id": item}
    got: Any = console.submit("/decisions/link", form)
    assert got.status_code == 200 and "Move the link" in got.text
    assert f"clears contact {old}" in got.text
    assert manual.linked_item(db, folder, 9) == old
    got = console.submit("/decisions/link", {**form, "confirmed": "yes"})
    assert got.status_code == 303 and manual.linked_item(db, folder, 9) == item
    assert db.get(9).contact_manager_id == item


def test_linking_a_person_whose_id_an_unlinked_contact_carries_asks_first(
    console: Console, db: PersonsDB, tmp_path: Path
) -> None:
    """The same when no link row names the old contact, only its Customer ID (found by the
    library under the folder's lease): asked, not an error page."""
    from dataclasses import replace

    from personsync.model import Contact, Record
    from personsync.stores import open_folder
    from personsync.sync import manual

    folder = f"vcf:{tmp_path}/carries"
    store_ = open_folder(folder)
    try:
        old = store_.create(replace(Contact(db.get(9).record), customer_id="9")).item_id
        item = store_.create(Contact(Record(first_name="Other"))).item_id
    finally:
        store_.close()
    form = {"folder": folder, "key": "", "person_id": "9", "item_id": item}
    got: Any = console.submit("/decisions/link", form)
    assert got.status_code == 200 and "Move the link" in got.text, got.text
    assert f"has contact {old} by its Customer ID" in got.text
    assert manual.linked_item(db, folder, 9) is None
    got = console.submit("/decisions/link", {**form, "confirmed": "yes"})
    assert got.status_code == 303 and manual.linked_item(db, folder, 9) == item
