"""Persons: the views, a view's Persons as a paged, searchable table, a Person's page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from personsync.errors import FilterSyntaxError, PersonsyncError
from personsync.fields import FIELDS
from personsync.persons.filter_lexer import quote
from personsync.sync.engine import ensure_tables
from personsync.sync.tables import sync_links
from personsync.web.app import render, state
from personsync.web.paging import Page

router = APIRouter()
PAGE_SIZE = 50
COLUMNS = ("first_name", "last_name", "email1", "company", "business_phone", "business_city")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/persons", status_code=303)


@router.get("/persons", response_class=HTMLResponse)
def views_page(request: Request) -> HTMLResponse:
    db = state(request).db
    rows = [(v, db.count(v.name)) for v in db.views()]
    return render(request, "persons.html", views=rows)


def search_filter(q: str) -> str:
    """The search box: any word in a name, an e-mail address or the company."""
    parts = []
    for word in q.split():
        value = quote(word)
        either = " or ".join(f"{field} contains {value}" for field in ("name", "email", "company"))
        parts.append(f"({either})")
    return " and ".join(parts)


@router.get("/views/{name}", response_class=HTMLResponse)
def view_page(
    request: Request, name: str, q: str = "", filter: str = "", page: int = 1
) -> HTMLResponse:
    web = state(request)
    db = web.db
    view = db.get_view(name)
    where = " and ".join(f"({w})" for w in (search_filter(q), filter.strip()) if w)
    errors: dict[str, str] = {}
    persons: list[Any] = []
    total = 0
    try:
        ids = web.view_pages.ids(db, name, where)
        total = len(ids)
        paging = Page(page, PAGE_SIZE, total)
        persons = web.view_pages.page(db, ids, paging.offset, PAGE_SIZE)
    except FilterSyntaxError as exc:
        errors["filter"] = exc.message + (f" ({exc.hint})" if exc.hint else "")
        paging = Page(1, PAGE_SIZE, 0)
    except PersonsyncError as exc:
        errors["filter"] = exc.message
        paging = Page(1, PAGE_SIZE, 0)
    template = "view_table.html" if request.headers.get("hx-request") else "view.html"
    return render(
        request,
        template,
        view=view,
        q=q,
        filter=filter,
        errors=errors,
        persons=persons,
        total=total,
        paging=paging,
        columns=COLUMNS,
    )


@router.get("/persons/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, person_id: int) -> HTMLResponse:
    db = state(request).db
    person = db.get(person_id)
    ensure_tables(db.engine)
    t = sync_links
    with db.engine.connect() as conn:
        links = conn.execute(
            select(t.c.folder, t.c.item_id, t.c.synced_at)
            .where(t.c.person_id == person_id)
            .order_by(t.c.folder)
        ).all()
    groups: dict[str, list[tuple[str, Any]]] = {}
    for spec in FIELDS:
        groups.setdefault(spec.group, []).append((spec.label, getattr(person.record, spec.name)))
    return render(request, "person.html", person=person, groups=groups, links=links)
