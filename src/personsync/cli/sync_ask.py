"""`sync` in a terminal asks about the conflicts it left (issue 12 §2: "in a terminal, `sync` may
ask"). Only when a person is there to answer (stdin and stdout are terminals), the run was a
real two-way sync and no `--on-conflict` was given: piped, scheduled or told a policy, the run
never asks, and its conflicts stay decisions for `personsync resolve`. Each answer is settled
by that very library call (`sync.resolve.resolve`), one journaled, undoable run per Person and
side, under the folder's lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import typer

from personsync.errors import ExitCode, UsageError
from personsync.sync.report import UNSETTLED, RunReport

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

ANSWERS = {"c": "crm", "o": "outlook", "s": ""}


def ask_conflicts(db: PersonsSide, report: RunReport) -> int:
    """Ask, per conflict the run left, which side's value both get (or skip it); settle the
    answered ones with `resolve`. Returns the exit code the whole command ends with: the run's,
    or clean once every decision it left was settled here."""
    from personsync.sync.resolve import resolve

    open_ = [c for c in report.conflicts if c.get("kept") == UNSETTLED]
    if not open_:
        return report.exit_code
    typer.echo(
        f"\n{len(open_)} conflict(s) left as decisions: take the CRM's value, Outlook's, "
        "or skip (decide later with `personsync resolve`)."
    )
    chosen: dict[tuple[int, str], list[str]] = {}
    for c in open_:
        typer.echo(
            f"{c.get('name') or 'Person ' + str(c['person_id'])}, {c['field']}: "
            f"CRM {c['crm']!r} · Outlook {c['outlook']!r}"
        )
        answer = click.prompt(
            "  take [c]rm, [o]utlook or [s]kip",
            default="s",
            type=click.Choice(list(ANSWERS)),
            show_choices=False,
        )
        if ANSWERS[answer]:
            chosen.setdefault((int(c["person_id"]), ANSWERS[answer]), []).append(str(c["field"]))
    settled, clean = 0, True
    for (pid, side), fields in chosen.items():
        try:
            outcome = resolve(db, str(pid), side, fields=fields, folder=report.folder)
        except UsageError as exc:  # every field refused by its direction rule: said, left
            typer.echo(f"Person {pid}: {exc.message}")
            clean = False
            continue
        done = outcome.report
        clean = clean and done is not None and done.exit_code == ExitCode.CLEAN
        settled += len(fields)
        run = done.run_id if done is not None else "-"
        typer.echo(f"Person {pid}: took {side} for {', '.join(fields)} (run {run})")
    if settled == len(open_) and clean and not report.errors and not report.skipped:
        return ExitCode.CLEAN
    return report.exit_code
