"""Settings (the database in use, the administrator password, Microsoft 365, CardDAV servers)
and sign-in."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from personsync.errors import PersonsyncError
from personsync.web import carddav_credentials, security
from personsync.web.app import render, state
from personsync.web.security import form_of
from personsync.web.tasks import Task

router = APIRouter()


def _graph_status() -> str:
    """Who is signed in to Microsoft 365, from the sign-in cache (no network)."""
    try:
        auth = _graph_auth()
        try:
            who = auth.whoami()
        finally:
            auth.close()
    except PersonsyncError as exc:
        return f"not configured: {exc.message}"
    return f"signed in as {who}" if who else "not signed in"


def _graph_auth() -> Any:
    from personsync.graph.auth import GraphAuth
    from personsync.graph.config import GraphConfig

    return GraphAuth(GraphConfig.load())


@router.post("/settings/graph/login")
def graph_login(request: Request) -> RedirectResponse:
    """Microsoft 365's device-code sign-in in the background; the task's page shows the code."""

    def work(task: Task) -> None:
        auth = _graph_auth()
        try:
            task.phase = "waiting"
            who = auth.login(lambda message: setattr(task, "message", message))
        finally:
            auth.close()
        task.message = f"Signed in to Microsoft 365 as {who}."

    task = state(request).tasks.start("Microsoft 365 sign-in", work, back="/settings")
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


@router.post("/settings/graph/logout")
def graph_logout(request: Request) -> RedirectResponse:
    auth = _graph_auth()
    try:
        auth.logout()
    finally:
        auth.close()
    return RedirectResponse("/settings?saved=signed-out", status_code=303)


def _page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    saved: str = "",
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    web = state(request)
    try:
        servers, problem = carddav_credentials.servers(), ""
    except PersonsyncError as exc:
        servers, problem = [], exc.message
    return render(
        request,
        "settings.html",
        status,
        database=web.database,
        has_password=security.has_password(web.db.engine),
        needs_signin=web.needs_signin(),
        graph=_graph_status(),
        carddav=servers,
        carddav_problem=problem,
        errors=errors or {},
        saved=saved,
        typed=typed or {},
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, saved: str = "") -> HTMLResponse:
    return _page(request, saved=saved)


@router.post("/settings/carddav", response_class=HTMLResponse)
def save_carddav(request: Request, form: FormData = Depends(form_of)) -> Any:
    """A CardDAV server's user and password, kept where runs look for them."""
    server, user = str(form.get("server", "")).strip(), str(form.get("user", "")).strip()
    errors: dict[str, str] = {}
    if not server:
        errors["server"] = "name the server, e.g. https://cloud.example.org/"
    else:
        try:
            carddav_credentials.save(server, user, str(form.get("secret", "")))
        except PersonsyncError as exc:
            field = "user" if "user" in exc.message else "secret"
            if "address" in exc.message or "URL" in exc.message:
                field = "server"
            errors[field] = exc.message + (f" ({exc.hint})" if exc.hint else "")
    if errors:  # what was typed is kept, except the password
        typed = {"server": server, "user": user}
        return _page(request, errors=errors, typed=typed, status=422)
    return RedirectResponse("/settings?saved=carddav", status_code=303)


@router.post("/settings/carddav/forget")
def forget_carddav(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    carddav_credentials.forget(str(form.get("host", "")))
    return RedirectResponse("/settings?saved=carddav-forgotten", status_code=303)


@router.post("/settings/password", response_class=HTMLResponse)
def change_password(request: Request, form: FormData = Depends(form_of)) -> Any:
    web = state(request)
    password, again = str(form.get("password", "")), str(form.get("again", ""))
    errors: dict[str, str] = {}
    if password != again:
        errors["again"] = "the two passwords differ"
    else:
        try:
            security.set_password(web.db.engine, password)
        except PersonsyncError as exc:
            errors["password"] = f"{exc.message} ({exc.hint})"
    if errors:
        return _page(request, errors=errors, status=422)
    request.session["signed_in"] = True
    return RedirectResponse("/settings?saved=password", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: FormData = Depends(form_of)) -> Any:
    web = state(request)
    if security.check_password(web.db.engine, str(form.get("password", ""))):
        request.session.clear()
        request.session["signed_in"] = True
        request.session["csrf"] = secrets.token_urlsafe(32)  # a fresh token after sign-in
        return RedirectResponse("/persons", status_code=303)
    return render(request, "login.html", 401, error="That is not the administrator password.")


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
