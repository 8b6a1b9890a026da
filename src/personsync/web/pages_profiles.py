"""Sync profiles: the list with last and next runs, a form to create or edit, Run now, delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from personsync.errors import ProfileError
from personsync.jobs.engine_adapter import MODES, OPTIONS
from personsync.persons.repo import ALL_PERSONS
from personsync.profiles import runner, store
from personsync.profiles.store import Profile
from personsync.web.app import WebState, render, state
from personsync.web.security import form_of
from personsync.web.tasks import Task

router = APIRouter()


@router.get("/profiles", response_class=HTMLResponse)
def profiles_page(request: Request) -> HTMLResponse:
    db = state(request).db
    return render(
        request, "profiles.html", profiles=store.list_profiles(db.engine), options=OPTIONS
    )


def _form_page(
    request: Request,
    web: WebState,
    values: dict[str, Any],
    errors: dict[str, str],
    original: str | None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "profile_form.html",
        status,
        values=values,
        errors=errors,
        original=original,
        modes=MODES,
        options=OPTIONS,
        views=[v.name for v in web.db.views()],
    )


def _values(p: Profile) -> dict[str, Any]:
    return {
        "name": p.name,
        "direction": p.direction,
        "folder": p.folder,
        "view": p.view or ALL_PERSONS,
        "max_change": f"{p.max_change:g}",
        "schedule": "cron" if p.cron else "every",
        "every_minutes": "" if p.every_minutes is None else str(p.every_minutes),
        "cron": p.cron or "",
        "enabled": p.enabled,
        **{k: p.options.get(k, "") for k in OPTIONS},
    }


@router.get("/profiles/new", response_class=HTMLResponse)
def new_profile(request: Request, view: str = ALL_PERSONS, folder: str = "") -> HTMLResponse:
    blank = Profile("", "export", folder or "vcf:Contacts", view, every_minutes=15)
    return _form_page(request, state(request), _values(blank), {}, None)


@router.get("/profiles/{name}/edit", response_class=HTMLResponse)
def edit_profile(request: Request, name: str) -> HTMLResponse:
    web = state(request)
    return _form_page(request, web, _values(store.get(web.db.engine, name)), {}, name)


def _from_form(form: FormData) -> tuple[Profile, dict[str, str]]:
    errors: dict[str, str] = {}
    text = {k: str(v).strip() for k, v in form.items()}
    every: int | None = None
    cron: str | None = None
    if text.get("schedule") == "cron":
        cron = text.get("cron") or None
        if cron is None:
            errors["cron"] = "write a cron expression, e.g. */15 * * * *"
    elif text.get("schedule") == "every":
        raw = text.get("every_minutes", "")
        if raw.isdigit():
            every = int(raw)
        else:
            errors["every_minutes"] = "write a whole number of minutes, e.g. 15"
    try:
        share = float(text.get("max_change") or 50)
    except ValueError:
        share, errors["max_change"] = 50.0, "write a percentage, e.g. 50"
    profile = Profile(
        name=text.get("name", ""),
        direction=text.get("direction", ""),
        folder=text.get("folder", ""),
        view=text.get("view") or ALL_PERSONS,
        max_change=share,
        every_minutes=every,
        cron=cron,
        enabled=text.get("enabled") == "on",
        options={k: text[k] for k in OPTIONS if text.get(k)},
    )
    return profile, errors


def _raw(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(v) for k, v in form.items()}
    values["enabled"] = form.get("enabled") == "on"
    return values


def _save(request: Request, form: FormData, original: str | None) -> Any:
    web = state(request)
    profile, errors = _from_form(form)
    if original is not None:
        # Options this form does not show (set with the CLI) are kept.
        old = store.get(web.db.engine, original)
        kept = {k: v for k, v in old.options.items() if k not in OPTIONS}
        profile = replace(profile, options={**kept, **profile.options})
    for problem in store.validate(web.db, profile):
        field = "every_minutes" if problem.field == "schedule" else problem.field
        errors.setdefault(field, problem.message + (f" ({problem.hint})" if problem.hint else ""))
    if not errors:
        try:
            saved = store.save(web.db, profile, replace_name=original)
            return RedirectResponse(f"/profiles#{saved.name}", status_code=303)
        except ProfileError as exc:
            errors[exc.field or "name"] = exc.message
    return _form_page(request, web, _raw(form), errors, original, 422)


@router.post("/profiles/new")
def create_profile(request: Request, form: FormData = Depends(form_of)) -> Any:
    return _save(request, form, None)


@router.post("/profiles/{name}/edit")
def update_profile(request: Request, name: str, form: FormData = Depends(form_of)) -> Any:
    return _save(request, form, name)


@router.get("/profiles/{name}/delete", response_class=HTMLResponse)
def ask_delete(request: Request, name: str) -> HTMLResponse:
    profile = store.get(state(request).db.engine, name)
    return render(request, "profile_delete.html", profile=profile)


@router.post("/profiles/{name}/delete")
def delete_profile(request: Request, name: str) -> RedirectResponse:
    store.delete_profile(state(request).db.engine, name)
    return RedirectResponse("/profiles", status_code=303)


@router.post("/profiles/{name}/run")
def run_now(request: Request, name: str) -> RedirectResponse:
    web = state(request)
    profile = store.get(web.db.engine, name)

    def work(task: Task) -> str | None:
        done = runner.run_profile(web.db, profile, on_event=task.hear)
        if done.status in {"failed", "guard"}:
            task.message = done.error or done.status
        return done.run_id

    task = web.tasks.start(f"Profile {name}", work)
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)
