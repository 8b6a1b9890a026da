"""The console's FastAPI application: state, middleware, error pages, the page modules."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from personsync.errors import (
    ConfigError,
    PersonNotFound,
    PersonsyncError,
    ProfileError,
    RunNotFound,
    ViewError,
)
from personsync.fields import FIELDS
from personsync.jobs.engine_adapter import SyncRequest
from personsync.persons.connect import display_url
from personsync.persons.repo import PersonsDB
from personsync.sync.plan import Plan
from personsync.web import security
from personsync.web.scheduler import Scheduler
from personsync.web.tasks import Tasks
from personsync.web.view_pages import ViewPages

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


@dataclass
class PlanEntry:
    """A previewed plan, kept so its pages can be read and its Finish can apply it."""

    request: SyncRequest
    plan: Plan
    by_kind: dict[str, list[int]]  # action kind → indexes into plan.actions (paging, filters)
    guard: str | None


class Plans:
    """The last few previews (a 100,000-action plan is tens of MB: keep only a few)."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._plans: OrderedDict[str, PlanEntry] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, request: SyncRequest, plan: Plan, guard: str | None) -> str:
        by_kind: dict[str, list[int]] = {}
        for i, action in enumerate(plan.actions):
            kind = action.kind
            if kind == "refresh":
                # Only versions move, unless fields were left with both values: a conflict.
                if not getattr(action, "conflicts", ()):
                    continue
                kind = "conflict"
            by_kind.setdefault(kind, []).append(i)
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._plans[token] = PlanEntry(request, plan, by_kind, guard)
            while len(self._plans) > self.keep:
                self._plans.popitem(last=False)
        return token

    def get(self, token: str) -> PlanEntry:
        with self._lock:
            entry = self._plans.get(token)
        if entry is None:
            raise HTTPException(404, "This plan is no longer kept; make it again.")
        return entry


@dataclass
class WebState:
    db: PersonsDB
    host: str
    plans: Plans = field(default_factory=Plans)
    tasks: Tasks = field(default_factory=Tasks)
    view_pages: ViewPages = field(default_factory=ViewPages)
    scheduler: Scheduler | None = None

    def needs_signin(self) -> bool:
        return not security.is_loopback(self.host) or security.has_password(self.db.engine)

    @property
    def database(self) -> str:
        return display_url(self.db.url)


templates = Jinja2Templates(
    directory=str(HERE / "templates"),
    context_processors=[
        lambda request: {
            "csrf_token": security.csrf_token(request),
            "signed_in": bool(request.session.get("signed_in")),
        }
    ],
)
# What people read for each field (the plan's changes, the decisions' candidates).
templates.env.globals["labels"] = {f.name: f.label for f in FIELDS}
# What people read for a plan's or a run's counts.
templates.env.globals["count_labels"] = {
    "create-contact": "New contacts",
    "update-contact": "Contact updates",
    "create-person": "New Persons",
    "update-person": "Person updates",
    "link": "Links",
    "skip": "Skipped",
    "keep-deleted": "Kept deleted",
    # Deletes and view membership (docs/sync.md): a plan page must show every one of them.
    "left-view": "Left the view (kept)",
    "tag-contact": "Tagged “Removed from CRM”",
    "delete-contact": "Contacts deleted",
    "delete-person": "Persons deleted",
    "moved": "Moved to another folder",
    "not-created": "Not made into Persons",
    "decide": "Decisions needed",
    "conflict": "Conflicts left to decide",
    "unchanged": "Unchanged",
    "undone": "Undone",
    "not-undone": "Not undone",
    "unlink": "Unlinked",
}


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def create_app(
    db_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    schedule: bool = True,
    tick: float = 20.0,
) -> FastAPI:
    """The console for the Persons database at `db_url`. Bound to a non-loopback `host`, it
    refuses to start without an administrator password. `tick`: how often (seconds) the
    scheduler looks for due profiles."""
    db = PersonsDB(db_url)
    if not security.is_loopback(host) and not security.has_password(db.engine):
        db.close()
        raise ConfigError(
            f"the console would listen on {host}, beyond this machine, without a password",
            hint="set one first: personsync serve --set-password",
        )
    web = WebState(db, host)
    if schedule:
        web.scheduler = Scheduler(web.db, tick=tick)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The scheduler runs while the server serves; the database closes with it.
        if web.scheduler is not None:
            web.scheduler.start()
        try:
            yield
        finally:
            if web.scheduler is not None:
                web.scheduler.stop()
            web.db.close()

    app = FastAPI(
        lifespan=lifespan,
        title="personsync",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(security.check_signin), Depends(security.check_csrf)],
    )
    app.state.web = web
    app.add_middleware(
        SessionMiddleware,
        secret_key=security.session_key(db.engine),
        session_cookie="personsync_session",
        same_site="strict",
        https_only=False,
        max_age=12 * 3600,
    )
    app.add_middleware(security.SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from personsync.web import (
        pages_decisions,
        pages_persons,
        pages_profiles,
        pages_rules,
        pages_runs,
        pages_settings,
        pages_sync,
    )

    pages = (pages_persons, pages_sync, pages_runs, pages_decisions, pages_profiles, pages_rules)
    for module in (*pages, pages_settings):
        app.include_router(module.router)

    @app.exception_handler(PersonsyncError)
    def on_error(request: Request, exc: PersonsyncError) -> Response:
        missing = (PersonNotFound, RunNotFound, ViewError, ProfileError)
        status = 404 if isinstance(exc, missing) else 400
        return render(request, "error.html", status, message=exc.message, hint=exc.hint)

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in (301, 302, 303, 307) and exc.headers:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", exc.status_code, message=str(exc.detail), hint="")

    return app
