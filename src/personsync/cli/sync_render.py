"""How plans, run reports and the journal look in a terminal (Rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from personsync.cli.output import console, print_json
from personsync.sync.journal import RunInfo
from personsync.sync.plan import WRITES, Action, Plan, action_to_dict, conflicts_of
from personsync.sync.report import UNSETTLED, RunReport, rule_note
from personsync.sync.settings import FolderSettings

LABELS = {
    "create-contact": "create contact",
    "update-contact": "update contact",
    "create-person": "create Person",
    "update-person": "update Person",
    "link": "link",
    "tag-contact": "tag contact",
    "delete-contact": "delete contact",
    "delete-person": "delete Person",
    "keep-deleted": "kept deleted",
    "left-view": "left the view",
    "moved": "moved away",
    "not-created": "not created",
    "skip": "skip",
    "decide": "needs decision",
    "unchanged": "unchanged",
}


SHORT = {
    "create-contact": "created",
    "update-contact": "updated",
    "create-person": "created",
    "update-person": "updated",
    "link": "linked",
    "tag-contact": "tagged",
    "delete-contact": "deleted",
    "delete-person": "deleted",
    "decide": "to decide",
    "skip": "skipped",
    "unchanged": "unchanged",
}


# What a run counts when it wrote something that `undo` can take back.
WRITTEN = frozenset(WRITES)


def _short(value: Any, width: int = 30) -> str:
    text = "" if value is None else ", ".join(value) if isinstance(value, list) else str(value)
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def conflict_line(c: dict[str, Any], folder: str) -> str:
    """One named field: `company: CRM 'ACME' · Outlook 'Umbrella' (changed on both sides) →
    kept CRM`; below it, the folder's rule a person's choice (resolve) overrode or met."""
    kept = {"crm": "CRM", "outlook": "Outlook"}.get(c["kept"], c["kept"])
    note = rule_note(c, folder)
    return (
        f"{c['field']}: CRM {_short(c['crm']) or '∅'} · Outlook {_short(c['outlook']) or '∅'} "
        f"({c['why']}) → kept {kept}" + (f"\n    {note}" if note else "")
    )


def _detail(a: Action, folder: str) -> str:
    d = action_to_dict(a)
    named = [f"conflict {conflict_line(c, folder)}" for c in d.get("conflicts", ())]
    # (A refresh has nothing more to say than its conflicts: no empty line after them.)
    return "\n".join(filter(None, [*named, _what(d)])) if named else _what(d)


def _what(d: dict[str, Any]) -> str:
    if "changes" in d:
        parts = [
            f"{f}: {_short(o) or '∅'} → {_short(n) or '∅'}" for f, (o, n) in d["changes"].items()
        ]
        if d.get("link"):
            parts.insert(0, f"link by {d['link']}")
        return "\n".join(parts) or f"link by {d.get('link')}"
    if "fields" in d:
        # Who it is, in a few words: the name is in the "who" column already.
        keys = ("email1", "company", "job_title", "mobile_phone", "business_phone")
        shown = [_short(d["fields"][k], 28) for k in keys if k in d["fields"]][:3]
        return f"{len(d['fields'])} fields: " + ", ".join(shown)
    if d["action"] == "link":
        return f"link by {d['link']} (contact {d['item_id']})"
    reason = d.get("reason", "")
    if d.get("candidates"):
        reason += f"\ncandidates: {', '.join(d['candidates'])}"
    return str(reason)


def show_plan(plan: Plan, limit: int = 50) -> None:
    arrow = {"export": "into", "import": "from", "sync": "with"}[plan.direction]
    what = f"view {plan.view!r}" if plan.direction != "import" else "Persons"
    if plan.direction == "sync" and not plan.view:
        what = "some Persons"  # `resolve`: the pairs it settles, not a view
    console.print(
        f"[bold]Plan[/bold]: {plan.direction} {escape(what)} {arrow} {escape(plan.folder)}"
    )
    counts = plan.counts()
    console.print(
        "  " + " · ".join(f"{n} {LABELS[k]}" for k, n in counts.items() if n) or "  nothing to do"
    )
    if plan.unread:
        console.print(f"  {escape(plan.unread)}", style="dim")
    shown = [a for a in plan.actions if a.kind != "refresh" or conflicts_of(a)]
    named = len(plan.conflicts())
    if named:
        console.print(
            f"  [yellow]{named} field(s) changed on the side this run writes to or on both "
            "sides[/yellow]: named below with both values"
        )
    if shown:
        table = Table(show_lines=False, pad_edge=False)
        table.add_column("action")
        table.add_column("who")
        table.add_column("what")
        for a in shown[:limit]:
            d = action_to_dict(a)
            who = d.get("name") or d.get("item_id") or ""
            if d.get("person_id") is not None:
                who += f" (#{d['person_id']})"
            table.add_row(LABELS.get(a.kind, a.kind), escape(who), escape(_detail(a, plan.folder)))
        console.print(table)
        if len(shown) > limit:
            console.print(f"  … and {len(shown) - limit} more (--json lists them all)")
    for w in plan.warnings[:20]:
        console.print(f"[yellow]warning[/yellow]: {escape(w)}")


def show_report(report: RunReport, shown: Sequence[str] = ()) -> None:
    """The run's report; `shown`: warnings the plan printed already."""
    colour = {"clean": "green", "failed": "red"}.get(report.status, "yellow")
    console.print(
        # A dry run (`undo --dry-run`) has no run id: it made no run.
        f"[bold]{f'Run {report.run_id}' if report.run_id else 'Dry run'}[/bold] "
        f"({report.command} {escape(report.folder)}): "
        f"[{colour}]{escape(report.summary)}[/{colour}] in {report.duration:.1f} s"
    )
    console.print(
        "  "
        + (
            " · ".join(f"{n} {LABELS.get(k, k)}" for k, n in sorted(report.counts.items()) if n)
            or "nothing to do"
        )
    )
    for e in report.errors[:50]:
        who = e.get("name") or e.get("item_id") or e.get("person_id") or ""
        console.print(f"  [red]error[/red] {escape(str(who))}: {escape(str(e.get('error')))}")
    for s in report.skipped[:50]:
        _skipped(s)
    for c in report.conflicts[:50]:
        who = c.get("name") or c.get("item_id") or ""
        line = conflict_line(c, report.folder)
        console.print(f"  [yellow]conflict[/yellow] {escape(str(who))}: {escape(line)}")
    if any(c.get("kept") == UNSETTLED for c in report.conflicts):
        console.print(
            escape(
                f"  settle with: personsync resolve {report.run_id} --take crm|outlook [--field F]"
            ),
            style="dim",
        )
    for w in [w for w in report.warnings if w not in shown][:20]:
        console.print(f"  [yellow]warning[/yellow]: {escape(w)}")
    hidden = len(report.errors) + len(report.skipped) + len(report.conflicts) - 150
    if hidden > 0:
        console.print(f"  … and {hidden} more (`personsync runs show {report.run_id} --json`)")
    written = sum(n for k, n in report.counts.items() if k in WRITTEN)
    if report.command in {"export", "import", "sync"} and written:
        console.print(f"  undo with: personsync undo {report.run_id}", style="dim")


def _skipped(s: dict[str, Any]) -> None:
    """One skipped record: who, which contact (its own id), why, and how to settle it."""
    who = str(s.get("name") or "")
    item = s.get("item_id") or ""
    if item:
        who = f"{who} (contact {item})" if who else f"contact {item}"
    mail = f" <{s['email']}>" if s.get("email") else ""
    folder = str(s.get("folder", ""))
    console.print(
        f"  [yellow]{escape(str(s.get('kind', 'skipped')))}[/yellow] {escape(who)}{escape(mail)} "
        f"in {escape(folder)}: {escape(str(s.get('reason')))}"
    )
    if s.get("kind") == "decide" and item:
        person = s.get("person_id")
        console.print(
            f"    not this Person's contact: personsync unlink --folder {escape(folder)} "
            f"--item {escape(item)}",
            style="dim",
        )
        console.print(
            f"    a copy to leave alone: personsync unlink --folder {escape(folder)} "
            f"--item {escape(item)} --ignore",
            style="dim",
        )
        if person is not None:
            console.print(
                f"    this Person's contact: personsync link {person} {escape(item)} "
                f"--folder {escape(folder)}",
                style="dim",
            )


def run_to_dict(r: RunInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "command": r.command,
        "folder": r.folder,
        "view": r.view,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "status": r.status,
        "undone_by": r.undone_by or None,
        "counts": r.counts,
        "problems": r.problems,
    }


def show_runs(runs: list[RunInfo]) -> None:
    if not runs:
        console.print("no runs yet")
        return
    table = Table()
    table.add_column("run", no_wrap=True)  # typed back into `runs show` and `undo`: never cut
    table.add_column("command", no_wrap=True)
    table.add_column("folder", overflow="fold")
    table.add_column("started", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("counts")
    for r in runs:
        counts = ", ".join(f"{v} {SHORT.get(k, k)}" for k, v in r.counts.items() if v)
        table.add_row(
            r.id,
            r.command,
            escape(r.folder),
            f"{r.started_at:%Y-%m-%d %H:%M}",
            f"{r.status}, undone by {r.undone_by}" if r.undone_by else r.status,
            counts,
        )
    console.print(table)


def show_run(r: RunInfo, entries: list[dict[str, Any]], limit: int = 100) -> None:
    console.print(f"[bold]Run {r.id}[/bold]: {r.command} {escape(r.folder)} {escape(r.view)}")
    undone = f", undone by run {r.undone_by}" if r.undone_by else ""
    console.print(f"  started {r.started_at:%Y-%m-%d %H:%M:%S}, status {r.status}{undone}")
    console.print("  " + ", ".join(f"{k} {v}" for k, v in r.counts.items() if v))
    for p in r.problems[:limit]:
        who = p.get("name") or p.get("item_id") or ""
        # A conflict has no reason: its field, both values, what was kept (and a rule met).
        what = conflict_line(p, r.folder) if p.get("kind") == "conflict" else None
        console.print(
            f"  [yellow]{p.get('kind')}[/yellow] {escape(str(who))}: "
            f"{escape(str(what or p.get('reason') or p.get('error')))}"
        )
    table = Table(title="journal")
    for col in ("seq", "side", "action", "item", "person", "state"):
        table.add_column(col)
    for e in entries[:limit]:
        table.add_row(
            str(e["seq"]),
            e["side"],
            e["action"],
            escape(str(e["item_id"] or "")),
            str(e["person_id"] or ""),
            e["state"],
        )
    console.print(table)
    if len(entries) > limit:
        console.print(f"  … and {len(entries) - limit} more entries (--json lists them all)")


def show_settings(folder: str, settings: FolderSettings, json_out: bool) -> None:
    if json_out:
        print_json({"folder": folder, **settings.to_dict()})
        return
    policy = settings.on_conflict or "the run's default (export: crm, import: outlook, sync: skip)"
    console.print(f"[bold]Rules of {escape(folder)}[/bold]: on conflict {escape(policy)}")
    alone = "the CRM alone" if settings.crm_alone_creates else "both sides"
    console.print(
        f"  a Person removed (deleted, or left the view): {settings.on_person_removed or 'keep'}"
        f" · a contact deleted in the folder: {settings.on_contact_deleted or 'keep'}"
        f" · new records: {alone} create"
    )
    if not settings.rules:
        console.print(
            "  every field both ways; never blank out company, e-mails and phones into the CRM"
        )
        return
    table = Table(pad_edge=False)
    for title in ("field", "direction", "never blank out", "fill only if empty"):
        table.add_column(title)
    for name, rule in sorted(settings.rules.items()):
        blank = "default" if rule.never_blank is None else "yes" if rule.never_blank else "no"
        table.add_row(name, rule.flow, blank, "yes" if rule.fill_only_if_empty else "no")
    console.print(table)
    console.print("  other fields: both ways, defaults", style="dim")
