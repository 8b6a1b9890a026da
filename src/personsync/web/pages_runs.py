"""Runs (the history, a run's report, Undo with its preview) and the Decisions queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.datastructures import FormData

from personsync.errors import PersonsyncError, UsageError
from personsync.jobs import engine_adapter
from personsync.profiles.store import now
from personsync.profiles.tables import decision_dismissals
from personsync.stores import open_folder
from personsync.stores.base import get_one
from personsync.sync import journal, manual
from personsync.sync.engine import ensure_tables
from personsync.web.app import WebState, render, state
from personsync.web.paging import Page
from personsync.web.security import form_of
from personsync.web.tasks import Task

router = APIRouter()
ENTRIES_PAGE = 100


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    db = state(request).db
    ensure_tables(db.engine)
    return render(request, "runs.html", runs=journal.list_runs(db.engine, 200))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, page: int = 1) -> HTMLResponse:
    db = state(request).db
    ensure_tables(db.engine)
    info = journal.get_run(db.engine, run_id)
    paging = Page(page, ENTRIES_PAGE, journal.entry_count(db.engine, run_id))
    entries = journal.entries(db.engine, run_id)[paging.offset : paging.offset + paging.size]
    return render(request, "run.html", run=info, entries=entries, paging=paging)


@router.get("/runs/{run_id}/undo", response_class=HTMLResponse)
def undo_preview(request: Request, run_id: str) -> HTMLResponse:
    db = state(request).db
    info = journal.get_run(db.engine, run_id)
    if info.command == "undo":
        raise UsageError(f"run {run_id} is an undo; it cannot be undone")
    preview = engine_adapter.undo_preview(db, run_id)
    return render(request, "undo.html", run=info, entries=preview)


@router.post("/runs/{run_id}/undo")
def undo(request: Request, run_id: str) -> RedirectResponse:
    web = state(request)
    journal.get_run(web.db.engine, run_id)

    def work(task: Task) -> str:
        return engine_adapter.undo(web.db, run_id, on_event=task.hear).run_id

    task = web.tasks.start(f"Undo run {run_id}", work)
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


# --- decisions ----------------------------------------------------------------------------------


def decision_key(problem: dict[str, Any]) -> str:
    person, item = problem.get("person_id") or "", problem.get("item_id") or ""
    return f"{person}|{item}|{problem.get('reason')}"


def open_decisions(web: WebState) -> list[dict[str, Any]]:
    """What the latest export or import of each folder would not guess, less those dismissed."""
    engine = web.db.engine
    ensure_tables(engine)
    with engine.connect() as conn:
        dismissed = {(r.folder, r.key) for r in conn.execute(select(decision_dismissals))}
    seen: set[str] = set()
    out = []
    for run in journal.list_runs(engine, 500):
        if run.command not in {"export", "import", "sync"} or run.folder in seen:
            continue
        seen.add(run.folder)
        for problem in run.problems:
            if problem.get("kind") != "decide":
                continue
            key = decision_key(problem)
            if (run.folder, key) not in dismissed:
                out.append({**problem, "folder": run.folder, "key": key, "run": run.id})
    return out


def _candidates(web: WebState, decision: dict[str, Any]) -> list[dict[str, Any]]:
    """Each side of a decision, for showing side by side: Persons and contacts."""
    out: list[dict[str, Any]] = []
    ids = [str(c) for c in decision.get("candidates", [])]
    persons_are_candidates = bool(decision.get("item_id"))
    if persons_are_candidates:
        for cid in ids or [str(decision.get("person_id") or "")]:
            if not cid.isdigit():
                continue
            try:
                p = web.db.get(int(cid))
            except PersonsyncError:
                continue
            out.append({"person_id": p.id, "item_id": decision["item_id"], "record": p.record})
        return out
    try:
        store = open_folder(decision["folder"], create=False)
    except PersonsyncError:
        return out
    try:
        for cid in ids:
            contact = get_one(store, cid)
            if contact is not None:
                pid = decision.get("person_id")
                out.append({"person_id": pid, "item_id": cid, "record": contact.record})
    finally:
        store.close()
    return out


@router.get("/decisions", response_class=HTMLResponse)
def decisions_page(request: Request) -> HTMLResponse:
    web = state(request)
    found = open_decisions(web)
    shown = [{**d, "choices": _candidates(web, d)} for d in found[:50]]
    return render(request, "decisions.html", decisions=shown, total=len(found))


@router.post("/decisions/link")
def decide_link(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    web = state(request)
    person = str(form.get("person_id", ""))
    if not person.isdigit():
        raise UsageError("choose a Person to link")
    report = manual.link(web.db, int(person), str(form["folder"]), str(form["item_id"]))
    _dismiss(web, str(form["folder"]), str(form["key"]))
    return RedirectResponse(f"/runs/{report.run_id}", status_code=303)


@router.post("/decisions/ignore")
def decide_ignore(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    _dismiss(state(request), str(form["folder"]), str(form["key"]))
    return RedirectResponse("/decisions", status_code=303)


def _dismiss(web: WebState, folder: str, key: str) -> None:
    with web.db.engine.begin() as conn:
        conn.execute(
            decision_dismissals.delete().where(
                decision_dismissals.c.folder == folder, decision_dismissals.c.key == key
            )
        )
        row = {"folder": folder, "key": key, "dismissed_at": now()}
        conn.execute(decision_dismissals.insert().values(**row))
