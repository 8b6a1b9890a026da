"""Outlook Synchronization: the wizard (direction → folder → view → options), the plan, Finish,
live progress (server-sent events) and the way to the run's report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy import select
from starlette.datastructures import FormData

from personsync.errors import FolderNotFound, PersonsyncError, ViewError
from personsync.jobs import engine_adapter
from personsync.jobs.engine_adapter import MODES, OPTIONS, SyncRequest, needs_view
from personsync.persons.repo import ALL_PERSONS
from personsync.stores import describe_folders, list_folders, open_folder, split_url
from personsync.sync.engine import ensure_tables
from personsync.sync.plan import action_to_dict
from personsync.sync.tables import sync_links
from personsync.web import carddav_credentials, pages_rules
from personsync.web.app import WebState, render, state, templates
from personsync.web.paging import Page
from personsync.web.security import form_of
from personsync.web.tasks import Task

router = APIRouter()
STEPS = ("direction", "folder", "view", "options")
DEFAULT_FOLDER = "vcf:Contacts"
PLAN_PAGE = 50


def _steps(direction: str) -> list[str]:
    return [s for s in STEPS if s != "view" or needs_view(direction)]


def _request(answers: dict[str, str]) -> SyncRequest:
    try:
        share = float(answers.get("max_change") or 50)
    except ValueError:
        share = -1.0
    options = {k: answers[k] for k in OPTIONS if answers.get(k)}
    return SyncRequest(
        answers.get("direction", ""),
        answers.get("folder", "").strip(),
        answers.get("view") or ALL_PERSONS,
        share,
        options,
    )


def check_answers(web: WebState, answers: dict[str, str], upto: str) -> tuple[str, str] | None:
    """The first answer before step `upto` that is wrong: (its step, the message), or None."""
    req = _request(answers)
    steps = _steps(req.direction)
    wanted = steps[: steps.index(upto)] if upto in steps else steps
    for step in wanted:
        problem = _check(web, step, req)
        if problem:
            return step, problem
    return None


def _check(web: WebState, step: str, req: SyncRequest) -> str:
    try:
        if step == "direction" and req.direction not in MODES:
            return "choose a direction"
        if step == "folder":
            if not req.folder:
                return "name a contact folder, e.g. vcf:Contacts"
            split_url(req.folder)
            try:
                open_folder(req.folder, create=False).close()
            except FolderNotFound:
                if req.direction == "import":
                    raise
                # An export makes the folder.
        if step == "view":
            web.db.get_view(req.view)
        if step == "options" and not 0 <= req.max_change <= 100:
            return "the share is a percentage, 0 to 100"
        if step == "options":
            for key, value in req.options.items():
                if value not in OPTIONS[key][1]:
                    return f"unknown choice {value!r} for {OPTIONS[key][0].lower()}"
    except PersonsyncError as exc:
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    return ""


def _known_folders(web: WebState) -> list[str]:
    """Folders to suggest: those synced before, and the Microsoft 365 mailbox's contact
    folders once signed in (the store lists them)."""
    ensure_tables(web.db.engine)
    with web.db.engine.connect() as conn:
        used = [r[0] for r in conn.execute(select(sync_links.c.folder).distinct().limit(50))]
    return sorted({DEFAULT_FOLDER, *used, *_graph_folders()})


def _carddav_servers() -> list[str]:
    try:
        return [address for _, _, address in carddav_credentials.servers()]
    except PersonsyncError:  # an unreadable credentials file: Settings says why
        return []


def _graph_folders() -> list[str]:
    from personsync.graph.config import GraphConfig

    if not GraphConfig.load().client_id:
        return []
    try:
        return list_folders("graph:")
    except PersonsyncError:  # not signed in, or the service is away: type the folder instead
        return []


@router.get("/sync", response_class=HTMLResponse)
def wizard(request: Request) -> HTMLResponse:
    web = state(request)
    answers = dict(request.query_params)
    find = answers.pop("find", "")  # "Find address books": stay on the folder step
    req = _request(answers)
    steps = _steps(req.direction)
    step = "folder" if find else answers.get("step", "direction")
    if step not in steps:
        step = "direction"
    errors: dict[str, str] = {}
    problem = check_answers(web, answers, step)
    if problem is not None:
        step, errors[problem[0]] = problem[0], problem[1]
    books: list[tuple[str, str]] = []
    if find and step == "folder":
        books, errors["carddav"] = address_books(answers.get("carddav", ""))
    return _wizard_page(request, web, answers, step, errors, books=books)


def address_books(server: str) -> tuple[list[tuple[str, str]], str]:
    """The address books a CardDAV server offers (discovery, as `personsync folders list
    carddav:https://host/` does), with the credentials saved in Settings; or why none."""
    server = server.strip().removeprefix("carddav:")
    if not server:
        return [], "name the CardDAV server, e.g. https://cloud.example.org/"
    try:
        found = describe_folders("carddav:" + server)
    except PersonsyncError as exc:
        return [], exc.message + (f" ({exc.hint})" if exc.hint else "")
    return found, "" if found else "the server offers no address book to this user"


def _wizard_page(
    request: Request,
    web: WebState,
    answers: dict[str, str],
    step: str,
    errors: dict[str, str],
    status: int = 200,
    *,
    books: Sequence[tuple[str, str]] = (),
) -> HTMLResponse:
    req = _request(answers)
    steps = _steps(req.direction)
    index = steps.index(step)
    rules: list[str] = []
    if step == "options":
        with suppress(PersonsyncError):  # a wrong folder: the folder step names it
            rules = pages_rules.summary(web.db.engine, req.folder)
    return render(
        request,
        "sync.html",
        status,
        step=step,
        steps=steps,
        next_step=steps[index + 1] if index + 1 < len(steps) else None,
        back_step=steps[index - 1] if index else None,
        answers={
            "direction": req.direction,
            "folder": answers.get("folder") or DEFAULT_FOLDER,
            "view": answers.get("view") or ALL_PERSONS,
            "max_change": answers.get("max_change") or "50",
            **{k: answers.get(k, "") for k in OPTIONS},
        },
        errors=errors,
        modes=MODES,
        options=OPTIONS,
        views=[v.name for v in web.db.views()],
        folders=_known_folders(web),
        rules=rules,
        books=[
            (url, name, "/sync?" + urlencode({**answers, "folder": url, "step": "folder"}))
            for url, name in books
        ],
        carddav=answers.get("carddav", ""),
        carddav_servers=_carddav_servers(),
    )


@router.post("/sync/rules")
def to_rules(form: FormData = Depends(form_of)) -> RedirectResponse:
    """From the options step to the folder's field rules, and back with every answer kept
    (a POST: the form's CSRF token never goes into a URL)."""
    answers = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    back = "/sync?" + urlencode({**answers, "step": "options"})
    folder = answers.get("folder", "")
    return RedirectResponse("/rules?" + urlencode({"folder": folder, "back": back}), 303)


@router.post("/sync/plan", response_class=HTMLResponse)
def make_plan(request: Request, form: FormData = Depends(form_of)) -> Any:
    web = state(request)
    answers = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    problem = check_answers(web, answers, "plan")
    if problem is not None:
        return _wizard_page(request, web, answers, problem[0], {problem[0]: problem[1]}, 422)
    req = _request(answers)
    try:
        plan = engine_adapter.preview(web.db, req)
    except PersonsyncError as exc:
        field = "view" if isinstance(exc, ViewError) else "folder"
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return _wizard_page(request, web, answers, field, {field: message}, 422)
    token = web.plans.add(req, plan, engine_adapter.guard_problem(plan, req.max_change))
    return RedirectResponse(f"/plans/{token}", status_code=303)


@router.get("/plans/{token}", response_class=HTMLResponse)
def plan_page(request: Request, token: str, kind: str = "", page: int = 1) -> HTMLResponse:
    entry = state(request).plans.get(token)
    plan = entry.plan
    if kind and kind not in entry.by_kind:
        kind = ""
    indexes = entry.by_kind.get(kind, []) if kind else _all_shown(entry.by_kind)
    paging = Page(page, PLAN_PAGE, len(indexes))
    actions = []
    for i in paging.slice(indexes):
        shown = action_to_dict(plan.actions[i])
        if shown["action"] == "refresh":  # listed only with fields left to decide
            shown |= {"action": "conflict", "name": plan.actions[i].contact.display_name}  # type: ignore[union-attr]
        actions.append(shown)
    template = "plan_actions.html" if request.headers.get("hx-request") else "plan.html"
    return render(
        request,
        template,
        token=token,
        entry=entry,
        plan=plan,
        counts={**plan.counts(), "conflict": len(entry.by_kind.get("conflict", ()))},
        kind=kind,
        actions=actions,
        paging=paging,
        changes=plan.changes(),
    )


def _all_shown(by_kind: dict[str, list[int]]) -> list[int]:
    if len(by_kind) == 1:
        return next(iter(by_kind.values()))
    return sorted(i for ids in by_kind.values() for i in ids)


@router.post("/plans/{token}/finish", response_class=HTMLResponse)
def finish(request: Request, token: str, form: FormData = Depends(form_of)) -> Any:
    web = state(request)
    entry = web.plans.get(token)
    confirmed = form.get("confirmed") == "yes"
    if entry.guard and not confirmed:
        return render(request, "guard.html", token=token, entry=entry)
    req = entry.request

    def work(task: Task) -> str | None:
        report = engine_adapter.run(
            web.db,
            req,
            confirmed=confirmed,
            on_event=task.hear,
        )
        return report.run_id

    task = web.tasks.start(f"{MODES.get(req.direction, req.direction)}: {req.folder}", work)
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


def _task(web: WebState, task_id: str) -> Task:
    task = web.tasks.get(task_id)
    if task is None:
        raise HTTPException(404, "No such run in progress; see Runs for the finished ones.")
    return task


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: str) -> HTMLResponse:
    return render(request, "task.html", task=_task(state(request), task_id))


def sse_event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n\n"


async def task_events(request: Request, task: Task, every: float = 0.5) -> AsyncIterator[str]:
    """A `progress` event every `every` seconds, then `done` once the task is over."""
    fragment = templates.get_template("task_progress.html")
    while True:
        over = task.over
        html = fragment.render(task=task, request=request)
        yield sse_event("progress", html)
        if over:
            yield sse_event("done", html)
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(every)


@router.get("/tasks/{task_id}/events")
def task_stream(request: Request, task_id: str) -> StreamingResponse:
    task = _task(state(request), task_id)
    return StreamingResponse(
        task_events(request, task),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
