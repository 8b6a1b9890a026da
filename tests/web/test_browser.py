"""The console in a real Chromium: the wizard (keyboard only), import, undo, a decision, a
profile on its schedule, CSRF, sign-in; and a screenshot of every page at 1280 and 390 px."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser import chromium, served, shoot, tab_to
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from personsync.model import Contact
from personsync.persons.repo import PersonsDB
from personsync.persons.sample import generate
from personsync.profiles import store
from personsync.profiles.tables import sync_profiles
from personsync.stores import open_folder
from personsync.stores.base import get_one
from personsync.sync import journal
from personsync.sync.tables import sync_ignored
from personsync.web import security
from personsync.web.app import create_app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def site(db: PersonsDB) -> Iterator[str]:
    with served(create_app(db.url, tick=0.2)) as url:
        yield url


def cards(folder: Path) -> int:
    return len(list(folder.glob("*.vcf")))


def finish_and_open_report(page: Page) -> str:
    report = page.get_by_role("link", name="See the run report")
    expect(report).to_be_visible(timeout=20_000)
    report.click()
    expect(page).to_have_url(re.compile(r"/runs/[\w-]+$"))
    return page.url.rsplit("/", 1)[1]


def test_the_export_wizard_by_keyboard_alone(
    page: Page, site: str, db: PersonsDB, tmp_path: Path
) -> None:
    db.create_view("Members", "company is not empty", "last_name, first_name")
    members = db.count("Members")
    assert 0 < members < 120
    page.goto(site + "/persons")
    shoot(page, "persons")
    # Tab to the view's button, Enter: the wizard opens for that view.
    tab_to(page, "Outlook Synchronization")
    tab_to(page, "Outlook Synchronization")  # the nav link first, then the first view's button
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Outlook Synchronization")).to_be_visible()
    shoot(page, "wizard-direction")
    expect(page.get_by_label("Into Outlook (export)")).to_be_focused()
    page.keyboard.press("Enter")  # the first choice, submitted
    folder = page.get_by_label("Contact folder")
    expect(folder).to_be_focused()
    shoot(page, "wizard-folder")
    page.keyboard.press("Control+A")
    page.keyboard.type(f"vcf:{tmp_path}/members")
    page.keyboard.press("Enter")
    view = page.get_by_label("Persons view")
    expect(view).to_be_focused()
    page.keyboard.press("ArrowDown")  # All Persons → Members
    expect(view).to_have_value("Members")
    shoot(page, "wizard-view")
    tab_to(page, "Next →")
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile("Mass-change guard"))).to_be_focused()
    shoot(page, "wizard-options")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()
    expect(page.get_by_role("row", name=f"New contacts {members}")).to_be_visible()
    shoot(page, "plan")
    assert not (tmp_path / "members").exists() or cards(tmp_path / "members") == 0
    tab_to(page, "Finish")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="See the run report")).to_be_visible(timeout=20_000)
    shoot(page, "progress-done")
    tab_to(page, "See the run report")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("^Run "))).to_be_visible()
    shoot(page, "run-report")
    assert cards(tmp_path / "members") == members
    [run] = journal.list_runs(db.engine)
    assert (run.command, run.view, run.counts["create-contact"]) == ("export", "Members", members)


def test_the_import_wizard_and_undo(page: Page, site: str, db: PersonsDB, tmp_path: Path) -> None:
    folder = tmp_path / "from-outlook"
    contacts = open_folder(f"vcf:{folder}")
    try:
        for record in generate(6, seed=99):
            contacts.create(Contact(record))
    finally:
        contacts.close()
    before = db.count()
    page.goto(site + "/sync")
    page.get_by_label("From Outlook (import)").check()
    page.get_by_role("button", name="Next →").click()
    page.get_by_label("Contact folder").fill(f"vcf:{folder}")
    page.get_by_role("button", name="Next →").click()
    # Import reads no view: straight to the options.
    expect(page.get_by_label(re.compile("Mass-change guard"))).to_be_visible()
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("row", name="New Persons 6")).to_be_visible()
    page.get_by_role("link", name="New Persons").first.click()
    expect(page.locator("#actions")).to_contain_text("Actions 1–6 of 6")
    page.get_by_role("button", name="Finish").click()
    run = finish_and_open_report(page)
    assert db.count() == before + 6
    page.get_by_role("link", name="Undo…").click()
    expect(page.get_by_role("heading", name=f"Undo run {run}?")).to_be_visible()
    # The six new Persons are deleted; the Customer IDs written to their contacts are restored.
    expect(page.get_by_role("row", name=re.compile(r"^person create delete it"))).to_have_count(6)
    expect(page.get_by_role("row", name=re.compile(r"^contact update restore"))).to_have_count(6)
    shoot(page, "undo-preview")
    assert db.count() == before + 6  # the preview wrote nothing
    page.get_by_role("button", name="Undo this run").click()
    finish_and_open_report(page)
    expect(page.locator("dl.facts")).to_contain_text(f"undo · of run {run}")
    assert db.count() == before
    page.goto(site + "/runs")
    shoot(page, "runs")


def test_a_decision_settled_from_the_queue(
    page: Page, site: str, db: PersonsDB, tmp_path: Path
) -> None:
    person = db.get(4)
    folder = open_folder(f"vcf:{tmp_path}/shared")
    try:
        twins = [folder.create(Contact(person.record)).item_id for _ in range(2)]
    finally:
        folder.close()
    page.goto(
        f"{site}/sync?step=options&direction=export&folder=vcf:{tmp_path}/shared&view=All Persons"
    )
    page.get_by_role("button", name="Show the plan").click()
    page.get_by_role("link", name="Decisions needed").first.click()
    expect(page.locator("#actions")).to_contain_text("matches 2 contacts")
    page.get_by_role("button", name="Finish").click()
    page.get_by_role("button", name="Go ahead").click()  # 120 new contacts in a folder of 2
    finish_and_open_report(page)
    page.get_by_role("link", name="Settle the decisions").click()
    decision = page.locator("section.decision", has_text=person.record.last_name)
    expect(decision).to_contain_text("matches 2 contacts")
    decision.get_by_role("button", name="Link this contact").first.click()
    expect(page.locator("dl.facts")).to_contain_text("link")
    assert db.get(4).contact_manager_id in twins
    page.goto(site + "/decisions")
    expect(page.locator("main")).not_to_contain_text("matches 2 contacts")


def test_both_ways_through_the_wizard_then_its_decisions_settled_in_the_queue(
    page: Page, site: str, db: PersonsDB, tmp_path: Path
) -> None:
    from decisions_data import CONFLICTED, folder_to_decide

    out = f"vcf:{tmp_path}/both"
    first, second = folder_to_decide(db, out)
    db.update(20, {"job_title": "Treasurer"})  # flows into Outlook
    contacts = open_folder(out, create=False)
    try:  # and one from Outlook
        theirs = get_one(contacts, db.get(30).contact_manager_id or "")
        assert theirs is not None
        contacts.update(
            theirs, replace(theirs, record=theirs.record.replace({"job_title": "Chair"}))
        )
    finally:
        contacts.close()

    page.goto(site + "/sync")
    page.get_by_label("Both ways (sync)").check()
    page.get_by_role("button", name="Next →").click()
    page.get_by_label("Contact folder").fill(out)
    page.get_by_role("button", name="Next →").click()
    expect(page.get_by_label("Persons view")).to_have_value("All Persons")
    page.get_by_role("button", name="Next →").click()
    expect(page.get_by_label("When both sides changed the same field")).to_have_value("")
    page.get_by_role("button", name="Show the plan").click()
    for row in ("Contact updates 1", "Person updates 1", "Conflicts left to decide 1"):
        expect(page.get_by_role("row", name=row)).to_be_visible()
    expect(page.get_by_role("row", name="Decisions needed 2")).to_be_visible()
    page.get_by_role("link", name="Conflicts left to decide").first.click()
    conflict = page.locator("#actions table.conflicts")
    expect(conflict.get_by_role("row", name=re.compile("^Company"))).to_contain_text("CRM Side Ltd")
    expect(conflict.get_by_role("row", name=re.compile("^Company"))).to_contain_text(
        "Outlook Side Ltd"
    )
    shoot(page, "plan-both-ways")
    page.get_by_role("button", name="Finish").click()
    finish_and_open_report(page)
    assert db.get(30).record.job_title == "Chair"
    contacts = open_folder(out, create=False)
    try:
        ours = get_one(contacts, db.get(20).contact_manager_id or "")
        assert ours is not None and ours.record.job_title == "Treasurer"
    finally:
        contacts.close()
    assert db.get(CONFLICTED).record.company == "CRM Side Ltd"  # left as it is, both kept

    # The queue: a side per field, a copy made a Person, the other copy left alone.
    page.get_by_role("link", name="Settle the decisions").click()
    expect(page.locator("section.decision")).to_have_count(3)
    shoot(page, "decisions")
    page.get_by_role("button", name="Keep Outlook's Company").click()
    expect(page.locator("dl.facts")).to_contain_text("sync")
    page.goto(site + "/decisions")
    page.get_by_role("button", name="Keep the CRM's Business phone").click()
    expect(page.locator("dl.facts")).to_contain_text("sync")
    crm_phone = db.get(CONFLICTED).record.business_phone
    page.goto(site + "/decisions")
    expect(page.locator("section.conflict")).to_have_count(0)
    before = db.count()
    copy = page.locator("section.decision", has_text="Copy1")
    copy.get_by_role("button", name="Create a new Person from this contact").click()
    expect(page.locator("dl.facts")).to_contain_text("link")
    page.goto(site + "/decisions")
    page.locator("section.decision", has_text="Copy2").get_by_role(
        "button", name="Ignore this contact"
    ).click()
    expect(page.locator("main")).to_contain_text("Nothing to decide")

    assert db.count() == before + 1
    made = db.get(max(p.id for p in db.iter_persons()))
    assert (made.record.first_name, made.contact_manager_id) == ("Copy1", first)
    assert db.get(CONFLICTED).record.company == "Outlook Side Ltd"
    contacts = open_folder(out, create=False)
    try:
        pair = get_one(contacts, db.get(CONFLICTED).contact_manager_id or "")
        copy1 = get_one(contacts, first)
        assert pair is not None and copy1 is not None
        assert (pair.record.company, pair.record.business_phone) == ("Outlook Side Ltd", crm_phone)
        assert copy1.customer_id == str(made.id)
    finally:
        contacts.close()
    with db.engine.connect() as conn:
        ignored = {r.item_id for r in conn.execute(select(sync_ignored))}
    assert ignored == {second}


def test_field_rules_from_the_wizards_options_and_back(
    page: Page, site: str, db: PersonsDB, tmp_path: Path
) -> None:
    from personsync.sync.settings import load_settings

    out = f"vcf:{tmp_path}/rules"
    page.goto(f"{site}/sync?step=options&direction=sync&folder={out}&view=All Persons")
    page.get_by_label("When both sides changed the same field").select_option("crm")
    page.get_by_role("button", name="Change the field rules…").click()
    expect(page.get_by_role("heading", name="Field rules")).to_be_visible()
    page.get_by_label("Notes: direction", exact=True).select_option("to-outlook")
    page.get_by_label("Company: emptied values", exact=True).select_option("no")
    page.get_by_label("Job title: fill only if empty", exact=True).check()
    shoot(page, "field-rules")
    page.get_by_role("button", name="Save the rules").first.click()
    # Back on the options step, the rules shown; the wizard's answers kept.
    expect(page.locator(".rules-summary")).to_contain_text("Notes: CRM → Outlook only")
    expect(page.locator(".rules-summary")).to_contain_text(
        "Job title: both ways, fill only if empty"
    )
    expect(page.get_by_label("When both sides changed the same field")).to_have_value("crm")
    rules = load_settings(db.engine, out).rules
    assert (rules["notes"].flow, rules["company"].never_blank) == ("to-outlook", False)
    assert rules["job_title"].fill_only_if_empty and set(rules) == {"notes", "company", "job_title"}
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("heading", name="The plan")).to_be_visible()


def test_a_profile_runs_on_its_schedule_and_shows_its_result(
    page: Page, site: str, db: PersonsDB, tmp_path: Path
) -> None:
    page.goto(site + "/profiles")
    page.get_by_role("link", name="New profile").click()
    page.get_by_label("Name").fill("Members")
    page.get_by_label("Contact folder").fill("carrier-pigeon:x")
    page.get_by_label("Cron expression", exact=True).fill("every morning")
    page.get_by_label("A cron expression (UTC)").check()
    page.get_by_role("button", name="Save").click()
    # Errors beside their fields; what was typed is kept.
    expect(page.locator("#folder-error")).to_contain_text("unknown contact folder")
    expect(page.locator("#cron-error")).to_contain_text("not a cron expression")
    expect(page.get_by_label("Cron expression", exact=True)).to_have_value("every morning")
    shoot(page, "profile-form-errors")
    page.get_by_label("Contact folder").fill(f"vcf:{tmp_path}/members")
    page.get_by_label("Cron expression", exact=True).fill("* * * * *")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("section.profile")).to_contain_text("cron * * * * *")
    expect(page.locator("section.profile")).to_contain_text("never")
    with db.engine.begin() as conn:  # due now rather than at the next minute
        conn.execute(
            update(sync_profiles).values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    for _ in range(100):
        if store.get(db.engine, "Members").last_status:
            break
        time.sleep(0.1)
    page.reload()
    expect(page.locator("section.profile .status")).to_have_text("clean")
    shoot(page, "profiles")
    assert cards(tmp_path / "members") == 120
    page.get_by_role("link", name="report").click()
    expect(page.locator("dl.facts")).to_contain_text("export")


def test_a_post_without_the_csrf_token_is_refused(page: Page, site: str, tmp_path: Path) -> None:
    page.goto(site + "/persons")
    status = page.evaluate(
        """async (folder) => {
            const body = new URLSearchParams({direction: "export", folder, view: "All Persons"});
            return (await fetch("/sync/plan", {method: "POST", body})).status;
        }""",
        f"vcf:{tmp_path}/csrf",
    )
    assert status == 403
    assert not (tmp_path / "csrf").exists()


def test_beyond_loopback_it_demands_a_sign_in(page: Page, db: PersonsDB) -> None:
    security.set_password(db.engine, "a long password")
    with served(create_app(db.url, host="0.0.0.0", schedule=False), host="0.0.0.0") as url:
        page.goto(url + "/persons")
        expect(page).to_have_url(url + "/login")
        shoot(page, "sign-in")
        page.get_by_label("Administrator password").fill("wrong one")
        page.keyboard.press("Enter")
        expect(page.locator("#password-error")).to_contain_text("not the administrator password")
        page.get_by_label("Administrator password").fill("a long password")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Persons")).to_be_visible()
        page.goto(url + "/settings")
        expect(page.locator("main")).to_contain_text("sign-in is required")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(url + "/login")


def test_screenshots_of_the_other_pages(page: Page, site: str, db: PersonsDB) -> None:
    page.goto(site + "/views/All Persons")
    shoot(page, "view")
    page.get_by_label("Filter").fill('cty = "Boston"')
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#filter-error")).to_contain_text("did you mean city")
    expect(page.get_by_label("Filter")).to_have_value('cty = "Boston"')
    page.goto(site + "/persons/12")
    shoot(page, "person")
    page.goto(site + "/settings")
    shoot(page, "settings")


def test_the_wizard_into_microsoft_365_with_sign_in_in_the_page(
    page: Page, db: PersonsDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personsync.graph.testserver import GraphTestServer

    user = "ann@example.org"
    db.create_view("L", 'last_name startswith "L"')
    few = db.count("L")
    assert 0 < few < 20
    graph = GraphTestServer()
    graph.mailbox(user)
    with graph.serve():
        for name, value in graph.client_environment(str(tmp_path)).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        with served(create_app(db.url, schedule=False)) as site:
            page.goto(site + "/settings")
            expect(page.locator("main")).to_contain_text("not signed in")
            page.get_by_role("button", name="Sign in to Microsoft 365").click()
            notice = page.locator(".notice")
            expect(notice).to_contain_text("devicelogin")
            code = re.search(r"enter (\w+)", notice.inner_text())
            assert code
            graph.identity.approve(code.group(1), user)  # the person, at Microsoft's page
            expect(notice).to_contain_text(f"Signed in to Microsoft 365 as {user}", timeout=20_000)
            shoot(page, "microsoft-365-sign-in")
            page.get_by_role("link", name="Back").click()
            expect(page.locator("main")).to_contain_text(f"signed in as {user}")

            page.goto(site + "/sync?step=direction&view=L")
            page.get_by_role("button", name="Next →").click()
            # The mailbox's folders are offered once signed in.
            expect(page.locator("#known-folders option[value='graph:Contacts']")).to_have_count(1)
            page.get_by_label("Contact folder").fill("graph:Contacts")
            page.get_by_role("button", name="Next →").click()
            expect(page.get_by_label("Persons view")).to_have_value("L")
            page.get_by_role("button", name="Next →").click()
            page.get_by_role("button", name="Show the plan").click()
            expect(page.get_by_role("row", name=f"New contacts {few}")).to_be_visible()
            page.get_by_role("button", name="Finish").click()
            finish_and_open_report(page)
            expect(page.locator("dl.facts")).to_contain_text("graph:Contacts")
            contacts = open_folder("graph:Contacts", create=False)
            try:
                assert len(list(contacts.list_items())) == few
            finally:
                contacts.close()

            # And back: importing the same folder finds every contact linked and in step.
            page.goto(site + "/sync?step=options&direction=import&folder=graph:Contacts")
            page.get_by_role("button", name="Show the plan").click()
            expect(page.get_by_role("row", name=f"Unchanged {few}")).to_be_visible()
            expect(page.get_by_role("button", name="Finish")).to_be_disabled()

            # Both ways: a change on each side crosses over.
            mover, other = [p.id for p in db.iter_persons("L")][:2]
            db.update(mover, {"job_title": "Treasurer"})
            contacts = open_folder("graph:Contacts", create=False)
            try:
                theirs = get_one(contacts, db.get(other).contact_manager_id or "")
                assert theirs is not None
                changed = replace(theirs, record=theirs.record.replace({"job_title": "Chair"}))
                contacts.update(theirs, changed)
            finally:
                contacts.close()
            page.goto(site + "/sync")
            page.get_by_label("Both ways (sync)").check()
            page.get_by_role("button", name="Next →").click()
            page.get_by_label("Contact folder").fill("graph:Contacts")
            page.get_by_role("button", name="Next →").click()
            page.get_by_label("Persons view").select_option("L")
            page.get_by_role("button", name="Next →").click()
            page.get_by_role("button", name="Show the plan").click()
            expect(page.get_by_role("row", name="Contact updates 1")).to_be_visible()
            expect(page.get_by_role("row", name="Person updates 1")).to_be_visible()
            page.get_by_role("button", name="Finish").click()
            finish_and_open_report(page)
            expect(page.locator("dl.facts")).to_contain_text("sync")
            assert db.get(other).record.job_title == "Chair"
            contacts = open_folder("graph:Contacts", create=False)
            try:
                ours = get_one(contacts, db.get(mover).contact_manager_id or "")
                assert ours is not None and ours.record.job_title == "Treasurer"
            finally:
                contacts.close()


def test_carddav_credentials_in_settings_and_address_books_in_the_wizard(
    page: Page, db: PersonsDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    from personsync.testing.carddav_servers import running

    secret = "s3cret-Radicale-pw"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("PERSONSYNC_CARDDAV_PASSWORD", raising=False)
    monkeypatch.delenv("PERSONSYNC_CARDDAV_USER", raising=False)
    db.create_view("L", 'last_name startswith "L"')
    few = db.count("L")
    users = tmp_path / "users"
    users.write_text(f"alice:{secret}\n")
    seen: list[str] = []
    with running("radicale", tmp_path / "dav", auth_file=users) as server:
        book = server.book("team")
        existing = open_folder(f"carddav:{book}", password=secret)  # made by MKCOL
        try:
            existing.create(Contact(next(iter(generate(1, seed=3)))))
        finally:
            existing.close()
        with served(create_app(db.url, schedule=False)) as site:
            page.goto(site + "/settings")
            page.get_by_label("Server address").fill(server.base + "/")
            page.get_by_label("User name").fill("alice")
            page.get_by_label(re.compile("^Password")).fill(secret)
            page.get_by_role("button", name="Save the CardDAV password").click()
            expect(page.locator(".ok")).to_have_text("Saved.")
            expect(page.get_by_role("row", name=re.compile("alice"))).to_contain_text(server.base)
            seen.append(page.content())
            shoot(page, "settings-carddav", at=page.get_by_role("heading", name="CardDAV servers"))
            saved = tmp_path / "config" / "personsync" / "carddav.toml"
            assert stat.S_IMODE(saved.stat().st_mode) == 0o600
            assert secret in saved.read_text()

            page.goto(site + "/sync?view=L")
            page.get_by_role("button", name="Next →").click()
            page.get_by_label("CardDAV server").fill(server.base + "/")
            page.get_by_role("button", name="Find address books").click()
            found = page.locator(".address-books a")
            expect(found).to_have_count(1)
            shoot(page, "wizard-folder-carddav")
            seen.append(page.content())
            found.first.click()
            folder = page.get_by_label("Contact folder")
            expect(folder).to_have_value(
                re.compile(r"^carddav:http://127\.0\.0\.1:\d+/alice/team/$")
            )
            page.get_by_role("button", name="Next →").click()
            expect(page.get_by_label("Persons view")).to_have_value("L")
            page.get_by_role("button", name="Next →").click()
            page.get_by_role("button", name="Show the plan").click()
            expect(page.get_by_role("row", name=f"New contacts {few}")).to_be_visible()
            seen.append(page.content())
            page.get_by_role("button", name="Finish").click()
            page.get_by_role("button", name="Go ahead").click()  # 9 new in a book of 1
            run = finish_and_open_report(page)
            seen.append(page.content())
            seen.append(page.url)
        contacts = open_folder(f"carddav:{book}", password=secret)
        try:
            assert len(list(contacts.list_items())) == few + 1
        finally:
            contacts.close()
    info = journal.get_run(db.engine, run)
    assert info.counts["create-contact"] == few
    assert not [text for text in seen if secret in text]
    assert secret not in repr(info)
