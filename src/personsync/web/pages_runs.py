"""Runs: the history, a run's report, Undo with its preview."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from personsync.errors import UsageError
from personsync.jobs import engine_adapter
from personsync.sync import journal
from personsync.sync.engine import ensure_tables
from personsync.sync.report import rule_note
from personsync.web.app import render, state
from personsync.web.paging import Page
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
    # A conflict a person's choice (resolve) overrode a rule for, or a rule refused, says so.
    notes = [rule_note(p, info.folder) for p in info.problems]
    return render(request, "run.html", run=info, entries=entries, paging=paging, notes=notes)


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
