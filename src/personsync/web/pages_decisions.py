"""Decisions: what the engine would not guess, as one queue, each settled by the library calls
the CLI uses.

- A match it would not guess (a copied contact, a Person or contact that matched several):
  **link** a pair (`personsync link`), **create new** (a Person from the contact, or a contact
  for the Person: `manual.create_new`), or **ignore** (the engine's own ignore, as
  `personsync unlink --ignore`: later runs leave the contact alone).
- A conflict a run left with both values: **take a side per field** (`personsync resolve
  PERSON --folder F --take crm|outlook --field NAME`), or for all of the pair's fields.

The queue is the latest export, import or sync of each folder. What was settled here is
remembered (`decision_dismissals`, with when) and hidden from the runs that began before that;
a later run that names it again shows it again. A resolve's own run (a sync of a few fields) is
remembered as partial, so it does not hide the other decisions of the full run before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from personsync.errors import ChangeNotConfirmed, PersonsyncError, UsageError
from personsync.profiles.store import now
from personsync.profiles.tables import decision_dismissals
from personsync.stores import open_folder
from personsync.stores.base import get_one
from personsync.sync import journal, manual
from personsync.sync.engine import ensure_tables
from personsync.sync.links import Links, set_ignored
from personsync.sync.report import UNSETTLED
from personsync.web.app import WebState, render, state
from personsync.web.security import form_of
from personsync.web.tasks import log_waits

router = APIRouter()
SHOWN = 50  # decisions per page: each reads its candidates
PARTIAL = "run:"  # a dismissal key prefix: a run that settled a few fields, not a full run


def decision_key(problem: dict[str, Any]) -> str:
    person, item = problem.get("person_id") or "", problem.get("item_id") or ""
    if problem.get("kind") == "conflict":
        return f"{person}|{item}|conflict:{problem.get('field')}"
    return f"{person}|{item}|{problem.get('reason')}"


def open_decisions(web: WebState) -> list[dict[str, Any]]:
    """The latest full run of each folder's matches to decide and conflicts left open, less
    those settled here; a conflict's fields are grouped by pair."""
    engine = web.db.engine
    ensure_tables(engine)
    with engine.connect() as conn:
        settled = {
            (r.folder, r.key): _utc(r.dismissed_at)
            for r in conn.execute(select(decision_dismissals))
        }

    def dismissed(folder: str, key: str, run_started: datetime) -> bool:
        # Settled here after that run began; a later run that names it again shows it again.
        at = settled.get((folder, key))
        return at is not None and at >= run_started

    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for run in journal.list_runs(engine, 500):
        if run.command not in {"export", "import", "sync"} or run.folder in seen:
            continue
        if (run.folder, PARTIAL + run.id) in settled:
            continue
        seen.add(run.folder)
        started = _utc(run.started_at)
        pairs: dict[tuple[Any, Any], dict[str, Any]] = {}
        for problem in run.problems:
            key = decision_key(problem)
            if dismissed(run.folder, key, started):
                continue
            common = {"folder": run.folder, "run": run.id, "key": key}
            if problem.get("kind") == "decide":
                out.append({**problem, **common})
            elif problem.get("kind") == "conflict" and problem.get("kept") == UNSETTLED:
                pair = (problem.get("person_id"), problem.get("item_id"))
                if pair not in pairs:
                    pairs[pair] = {**problem, **common, "fields": []}
                    out.append(pairs[pair])
                pairs[pair]["fields"].append({**problem, "key": key})
    return out


def _utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; every time here is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _person(web: WebState, pid: Any) -> dict[str, Any] | None:
    if not str(pid).isdigit():
        return None
    try:
        p = web.db.get(int(pid))
    except PersonsyncError:
        return None
    return {"person_id": p.id, "item_id": "", "record": p.record}


def _sides(web: WebState, decision: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Any]]:
    """The record the decision is about, and its candidates, for showing side by side. With a
    contact (item_id): the contact, and the Persons it could be; else the Person, and the
    contacts it could be."""
    item = decision.get("item_id") or ""
    ids = [str(c) for c in decision.get("candidates", [])]
    try:
        store = open_folder(decision["folder"], create=False)
    except PersonsyncError:
        return None, []
    try:
        if item:
            contact = get_one(store, item)
            this = None if contact is None else {"item_id": item, "record": contact.record}
            persons = [c for c in ids if c.isdigit()] or [str(decision.get("person_id") or "")]
            return this, [p for p in (_person(web, c) for c in persons) if p is not None]
        this = _person(web, decision.get("person_id"))
        found = [get_one(store, c) for c in ids]
        return this, [{"item_id": c.item_id, "record": c.record} for c in found if c is not None]
    finally:
        store.close()


@router.get("/decisions", response_class=HTMLResponse)
def decisions_page(request: Request) -> HTMLResponse:
    web = state(request)
    found = open_decisions(web)
    shown = []
    for d in found[:SHOWN]:
        if d.get("kind") == "decide":
            this, choices = _sides(web, d)
            d = {**d, "this": this, "choices": choices}
        shown.append(d)
    return render(request, "decisions.html", decisions=shown, total=len(found))


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _dismiss(web: WebState, folder: str, keys: list[str]) -> None:
    t = decision_dismissals
    with web.db.engine.begin() as conn:
        for key in keys:
            conn.execute(t.delete().where(t.c.folder == folder, t.c.key == key))
            conn.execute(t.insert().values(folder=folder, key=key, dismissed_at=now()))


@router.post("/decisions/link")
def decide_link(request: Request, form: FormData = Depends(form_of)) -> Response:
    web = state(request)
    person, folder, item = _text(form, "person_id"), _text(form, "folder"), _text(form, "item_id")
    if not person.isdigit() or not item:
        raise UsageError("choose the Person and the contact to link")
    yes = _text(form, "confirmed") == "yes"
    try:
        report = manual.link(
            web.db, int(person), folder, item, yes=yes, on_event=log_waits(f"link in {folder}")
        )
    except ChangeNotConfirmed as exc:
        # It changes another contact (a linked one, or one carrying the Person's Customer
        # ID): the library refused it, unwritten, and says what; asked first, as the CLI asks.
        return render(
            request,
            "link_move.html",
            question=exc.message,
            folder=folder,
            key=_text(form, "key"),
            person=person,
            item=item,
        )
    set_ignored(web.db.engine, folder, item, False)  # paired: no longer left alone
    _dismiss(web, folder, [_text(form, "key")])
    return RedirectResponse(f"/runs/{report.run_id}", status_code=303)


@router.post("/decisions/create")
def decide_create(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    """A new Person from the decision's contact, or a new contact for its Person."""
    web = state(request)
    folder, item, person = _text(form, "folder"), _text(form, "item_id"), _text(form, "person_id")
    if item:
        owner = Links(web.db.engine, folder).owner(item)
        if owner is not None:
            raise UsageError(
                f"contact {item} is linked to Person {owner}",
                hint="link it to the right Person instead, or ignore it",
            )
        report = manual.create_new(
            web.db, folder, item_id=item, on_event=log_waits(f"create new in {folder}")
        )
        set_ignored(web.db.engine, folder, item, False)
    elif person.isdigit():
        report = manual.create_new(
            web.db, folder, person_id=int(person), on_event=log_waits(f"create new in {folder}")
        )
    else:
        raise UsageError("this decision names neither a contact nor a Person")
    _dismiss(web, folder, [_text(form, "key")])
    return RedirectResponse(f"/runs/{report.run_id}", status_code=303)


@router.post("/decisions/ignore")
def decide_ignore(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    """The engine's ignore (`personsync unlink --ignore`): each contact named is unlinked if it
    was linked, and every later run leaves it alone (`link` pairs it again)."""
    web = state(request)
    folder = _text(form, "folder")
    items = [str(i) for i in form.getlist("item_id") if str(i).strip()]
    if not items:
        raise UsageError("this decision names no contact to leave alone")
    links = Links(web.db.engine, folder)
    for item in items:
        if links.owner(item) is not None:
            if form.get("side") == "candidates":
                continue  # another Person's contact: not this decision's to take away
            manual.unlink(web.db, folder, item_id=item, on_event=log_waits(f"ignore in {folder}"))
        set_ignored(web.db.engine, folder, item, True)
    _dismiss(web, folder, [_text(form, "key")])
    return RedirectResponse("/decisions", status_code=303)


@router.post("/decisions/resolve")
def decide_resolve(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    """Settle a pair's conflict with one side's value: one field, or all of them."""
    from personsync.sync.resolve import resolve

    web = state(request)
    folder, person, take = _text(form, "folder"), _text(form, "person_id"), _text(form, "take")
    field = _text(form, "field")
    if not person.isdigit():
        raise UsageError("this conflict names no Person")
    outcome = resolve(
        web.db,
        person,
        take,
        fields=[field] if field else (),
        folder=folder,
        on_event=log_waits(f"resolve in {folder}"),
    )
    keys = [str(k) for k in form.getlist("key")]
    if outcome.report is not None:
        # A field a rule refused stays a decision (its run page says why): still shown here.
        left = {decision_key({"kind": "conflict", **c}) for c in outcome.report.decisions()}
        keys = [k for k in keys if k not in left]
        keys.append(PARTIAL + outcome.report.run_id)
        _dismiss(web, outcome.report.folder, keys)
        return RedirectResponse(f"/runs/{outcome.report.run_id}", status_code=303)
    _dismiss(web, folder, keys)
    return RedirectResponse("/decisions", status_code=303)
