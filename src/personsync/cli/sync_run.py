"""One export, import or sync from the shell: check, plan, print the plan, guard, apply, report.

Shared by `export`, `import` and the `wizard`, so they behave the same: the mass-change question
is asked only of a person at a terminal (with the progress bar stopped while it is asked); piped
or scheduled, the guard stops the run with exit code 3 and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from personsync.cli.db import open_persons
from personsync.cli.output import Progress, interactive, print_json, progress, say_wait
from personsync.errors import ExitCode
from personsync.sync.policies import CONTACT_DELETED, PERSON_REMOVED, POLICIES, TAG

if TYPE_CHECKING:
    from personsync.sync.events import RunEvent
    from personsync.sync.plan import Plan
    from personsync.sync.report import RunReport

MaxChangeOption = Annotated[
    float,
    typer.Option(
        "--max-change",
        help="Mass-change guard: stop and ask when a run would create or change more than this "
        "percentage of a non-empty folder or Persons table.",
        min=0,
    ),
]

WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        help="When another run is working on the same contact folder, wait up to this many "
        "seconds for it to finish (default: do not wait; exit code 5).",
        min=0,
    ),
]


# From sync.policies, not sync.merge: merge loads the model (phonenumbers), which building the
# command tree for --help must not.
OnConflict = Enum("OnConflict", {name: name for name in POLICIES}, type=str)  # type: ignore[misc]

ConflictOption = Annotated[
    OnConflict | None,
    typer.Option(
        "--on-conflict",
        help="A field changed on the side this run writes to (or on both sides) since the last "
        "sync: keep the CRM's value (crm), Outlook's (outlook), or leave both as they are for "
        "you to decide (skip; newest does the same, as no folder records when a field changed). "
        "Default: the folder's rule, else the run's source (export: crm, import: outlook; "
        "sync: skip). Every such field is named in the plan and the report with both values; "
        "the journal keeps the overwritten one.",
    ),
]

# Hidden: the crash tests' hooks for a real process (`sync.options.with_test_hooks`), as options
# of this one run rather than environment variables every run of a process would see.
TestHooksOption = Annotated[str, typer.Option("--test-hooks", hidden=True)]

RecreateOption = Annotated[
    bool,
    typer.Option(
        "--recreate",
        help="Create again the contacts that were deleted in the folder (by default they stay "
        "deleted, and the report names their Persons).",
    ),
]


OnPersonRemoved = Enum(  # type: ignore[misc]
    "OnPersonRemoved", {name: name for name in PERSON_REMOVED}, type=str
)
OnContactDeleted = Enum(  # type: ignore[misc]
    "OnContactDeleted", {name: name for name in CONTACT_DELETED}, type=str
)

PersonRemovedOption = Annotated[
    OnPersonRemoved | None,
    typer.Option(
        "--on-person-removed",
        help="A linked Person was deleted from the CRM or left the view (the report says "
        "which): keep its contact and end the link (keep, the default), give the contact the "
        f'Outlook category "{TAG}" (tag; taken off if the Person comes back), or delete the '
        "contact (delete; journaled, `undo` re-creates it). Default: the folder's rule.",
    ),
]

ContactDeletedOption = Annotated[
    OnContactDeleted | None,
    typer.Option(
        "--on-contact-deleted",
        help="A linked contact was deleted in the folder (not moved to another folder): keep "
        "the Person (keep, the default; the contact is not re-created unless --recreate) or "
        "delete it too (propagate; journaled, `undo` restores it with the same id). Default: "
        "the folder's rule.",
    ),
]


def guard_question(bar: Progress, json_out: bool) -> Callable[[str], bool] | None:
    """How to ask a person whether to go past the mass-change guard; None when nobody can answer
    (JSON for a program, input or output not a terminal): then the guard refuses."""
    if json_out or not interactive():
        return None

    def ask(message: str) -> bool:
        with bar.paused():
            return typer.confirm(f"{message}. Go ahead?", default=False)

    return ask


def listener(
    bar: Progress,
    json_out: bool,
    on_plan: Callable[[Plan], None] | None = None,
) -> Callable[[RunEvent], bool | None]:
    """A run's events in a terminal: the plan (`on_plan`, then the bar's total), the guard's
    question (asked only of a person at a terminal), the bar moving with the writes."""
    from personsync.sync.events import GuardQuestion, Planned, Waiting
    from personsync.sync.events import Progress as Moved

    ask = guard_question(bar, json_out)

    def hear(event: RunEvent) -> bool | None:
        if isinstance(event, Planned):
            if on_plan is not None:
                on_plan(event.plan)
            bar(0, total=event.plan.changes())
        elif isinstance(event, GuardQuestion):
            return ask is not None and ask(event.message)
        elif isinstance(event, Moved):
            bar(event.step, total=event.total)
        elif isinstance(event, Waiting):
            say_wait(event.seconds, event.reason)
        return None

    return hear


def say_waits(event: RunEvent) -> None:
    """The events of a command without a progress bar (link, unlink): the folder's waits."""
    from personsync.sync.events import Waiting

    if isinstance(event, Waiting):
        say_wait(event.seconds, event.reason)


def sync(
    direction: str,
    folder: str,
    *,
    db_url: str | None,
    view: str | None,
    dry_run: bool,
    json_out: bool,
    yes: bool,
    max_change: float,
    plan_rows: int | None = None,
    wait: float = 0.0,
    on_conflict: OnConflict | None = None,
    recreate: bool = False,
    on_person_removed: OnPersonRemoved | None = None,
    on_contact_deleted: OnContactDeleted | None = None,
    test_hooks: str = "",
) -> int:
    """Plan, print the plan, apply, print the report; returns the exit code."""
    from personsync.stores.writable import check_writable
    from personsync.sync import engine
    from personsync.sync.merge import policy
    from personsync.sync.options import RunOptions, with_test_hooks
    from personsync.sync.settings import contact_deleted, person_removed

    if not dry_run:
        # Found before anything is planned or written, not once per contact.
        check_writable(folder)
    with open_persons(db_url) as db, progress(f"{direction}ing") as bar:

        def on_plan(plan: Plan) -> None:
            if not json_out:
                # Rich's markup and tables (0.02 s) for people only, not for --json.
                from personsync.cli.sync_render import show_plan

                with bar.paused():
                    show_plan(plan, limit=plan_rows or (50 if dry_run else 20))

        options = RunOptions(
            dry_run=dry_run,
            yes=yes,
            max_share=max_change / 100,
            wait=wait,
            on_conflict=policy(None if on_conflict is None else on_conflict.value),
            recreate=recreate,
            on_person_removed=person_removed(
                None if on_person_removed is None else on_person_removed.value
            ),
            on_contact_deleted=contact_deleted(
                None if on_contact_deleted is None else on_contact_deleted.value
            ),
        )
        options = with_test_hooks(options, test_hooks)
        outcome = engine.run(
            db,
            folder,
            direction,
            view=view,
            options=options,
            on_event=listener(bar, json_out, on_plan),
        )
    if outcome.report is None:
        if json_out:
            print_json({"plan": outcome.plan.to_dict()})
        return ExitCode.CLEAN
    code = finish(outcome.report, json_out, outcome.plan)
    if direction == "sync" and on_conflict is None and not json_out and interactive():
        # A person at a terminal settles the conflicts now (never when piped or told a policy).
        from personsync.cli.sync_ask import ask_conflicts

        with open_persons(db_url) as db:
            code = ask_conflicts(db, outcome.report)
    return code


def finish(report: RunReport, json_out: bool, plan: Plan | None = None) -> int:
    """Print a run's report (JSON or for people); returns its exit code."""
    if json_out:
        data: dict[str, Any] = {"report": report.to_dict()}
        if plan is not None:
            data["plan"] = {"counts": plan.counts()}
            if plan.unread:
                data["plan"]["unread"] = plan.unread
        print_json(data)
    else:
        from personsync.cli.sync_render import show_report

        show_report(report, plan.warnings if plan is not None else ())
    return report.exit_code
