"""A contact folder's field rules in the console: which way each field flows, whether an emptied
value may erase the other side's, whether it only fills an empty value; and the folder's default
conflict policy. The library behind `personsync rules show|set` (sync/settings.py) reads and
writes them; the wizard's options step and the profile pages lead here and back.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine
from starlette.datastructures import FormData

from personsync.errors import UsageError
from personsync.fields import FIELDS
from personsync.stores import split_url
from personsync.sync import settings
from personsync.sync.engine import ensure_tables
from personsync.sync.merge import DEFAULT_RULE, FieldRule
from personsync.sync.policies import POLICIES
from personsync.web.app import render, state
from personsync.web.security import form_of

router = APIRouter()

FLOW_LABELS = {
    "both": "both ways",
    "to-outlook": "CRM → Outlook only",
    "to-crm": "Outlook → CRM only",
    "none": "not synced",
}
BLANK_LABELS = {"": "default", "yes": "never blank out", "no": "may blank out"}
POLICY_LABELS = {
    "": "the run's default (into Outlook: the CRM; from Outlook: Outlook; both ways: ask me)",
    "crm": "the CRM's value wins",
    "outlook": "Outlook's value wins",
    "newest": "the newer change wins",
    "skip": "skip it and ask me (Decisions)",
}


def _back(url: str) -> str:
    """Where to return: a path of this console only (never another site)."""
    return url if url.startswith("/") and not url.startswith("//") else "/sync"


def _folder(folder: str) -> str:
    folder = folder.strip()
    if not folder:
        raise UsageError("name the contact folder whose rules to show")
    split_url(folder)  # an unknown kind of folder: the CLI's one-line error
    return folder


def summary(engine: Engine, folder: str) -> list[str]:
    """The folder's rules in a few words each (the wizard's options step shows them)."""
    ensure_tables(engine)
    found = settings.load_settings(engine, folder)
    labels = {f.name: f.label for f in FIELDS}
    out = []
    for name, rule in sorted(found.rules.items()):
        parts = [FLOW_LABELS[rule.flow]]
        if rule.never_blank is not None:
            parts.append("never blank out" if rule.never_blank else "may blank out")
        if rule.fill_only_if_empty:
            parts.append("fill only if empty")
        out.append(f"{labels.get(name, name)}: {', '.join(parts)}")
    if found.on_conflict:
        out.append(f"Conflicts: {POLICY_LABELS[found.on_conflict]}")
    return out


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, folder: str = "", back: str = "", saved: str = "") -> HTMLResponse:
    engine = state(request).db.engine
    folder = _folder(folder)
    ensure_tables(engine)
    found = settings.load_settings(engine, folder)
    rows = []
    for spec in FIELDS:
        rule = found.rules.get(spec.name, DEFAULT_RULE)
        blank = "" if rule.never_blank is None else "yes" if rule.never_blank else "no"
        rows.append((spec, rule, blank))
    return render(
        request,
        "rules.html",
        folder=folder,
        back=_back(back),
        rows=rows,
        on_conflict=found.on_conflict or "",
        flows=FLOW_LABELS,
        blanks=BLANK_LABELS,
        policies=POLICY_LABELS,
        saved=saved,
    )


@router.post("/rules")
def save_rules(request: Request, form: FormData = Depends(form_of)) -> RedirectResponse:
    """Save what changed, field by field, as `personsync rules set` would."""
    engine = state(request).db.engine
    folder = _folder(str(form.get("folder", "")))
    ensure_tables(engine)
    found = settings.load_settings(engine, folder)
    for spec in FIELDS:
        flow = str(form.get(f"flow-{spec.name}", "both"))
        blank = str(form.get(f"blank-{spec.name}", ""))
        wanted = FieldRule(
            flow,  # type: ignore[arg-type]  # set_rule checks it
            None if blank not in ("yes", "no") else blank == "yes",
            form.get(f"fill-{spec.name}") == "on",
        )
        if wanted != found.rules.get(spec.name, DEFAULT_RULE):
            settings.set_rule(
                engine,
                folder,
                spec.name,
                flow=wanted.flow,
                never_blank=wanted.never_blank,
                fill_only_if_empty=wanted.fill_only_if_empty,
            )
            if wanted.never_blank is None:  # set_rule keeps what is not given: back to default
                _default_blank(engine, folder, spec.name)
    policy = str(form.get("on_conflict", ""))
    if policy not in ("", *POLICIES):
        raise UsageError(f"unknown conflict policy {policy!r}", hint=", ".join(POLICIES))
    if (policy or None) != found.on_conflict:
        settings.set_policy(engine, folder, policy or None)
    back = _back(str(form.get("back", "")))
    return RedirectResponse(back, status_code=303)


def _default_blank(engine: Engine, folder: str, name: str) -> None:
    from dataclasses import replace

    current = settings.load_settings(engine, folder)
    rule = current.rules.get(name)
    if rule is None or rule.never_blank is None:
        return
    rules = {**current.rules, name: replace(rule, never_blank=None)}
    if rules[name] == DEFAULT_RULE:
        del rules[name]
    settings.save_settings(engine, folder, replace(current, rules=rules))
