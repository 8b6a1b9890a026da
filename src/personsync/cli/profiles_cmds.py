"""CLI: `personsync profiles list|show|create|edit|delete|run` and `personsync run-due`.

The profiles library is imported inside each command: `personsync --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from personsync.cli.db import open_persons
from personsync.cli.options import DbOption, JsonOption, YesOption
from personsync.cli.output import console, print_json
from personsync.cli.root import app
from personsync.errors import EXIT_CODES_HELP

if TYPE_CHECKING:
    from personsync.profiles.runner import ProfileRun
    from personsync.profiles.store import Profile

profiles_app = typer.Typer(
    help="Saved sync profiles: a direction, a contact folder, a view and a schedule.\n\n"
    "Examples:\n\n"
    "  personsync profiles create Members --direction export --folder vcf:./members "
    '--view "Members" --every 15\n\n'
    '  personsync profiles create Nightly --direction import --folder csv:in.csv --cron "0 2 * * *"'
    "\n\n  personsync profiles run Members",
    no_args_is_help=True,
)
app.add_typer(profiles_app, name="profiles")

NameArg = Annotated[str, typer.Argument(help="The profile's name.")]
DirectionOpt = Annotated[
    str | None,
    typer.Option("--direction", help="export (into Outlook), import or sync (both ways)."),
]
FolderOpt = Annotated[str | None, typer.Option("--folder", help="The contact folder.")]
ViewOpt = Annotated[str | None, typer.Option("--view", help="The Persons view (export).")]
EveryOpt = Annotated[
    int | None, typer.Option("--every", help="Run every N minutes.", show_default=False)
]
CronOpt = Annotated[
    str | None,
    typer.Option(
        "--cron", help='Run at the times of a cron expression (UTC), e.g. "*/15 * * * *".'
    ),
]
MaxChangeOpt = Annotated[
    float | None,
    typer.Option("--max-change", help="Mass-change guard share in percent (default 50).", min=0),
]
# From sync.policies, not sync.merge: building the command tree must not load the model.
ConflictOpt = Annotated[
    str | None,
    typer.Option(
        "--on-conflict",
        help="When both sides changed the same field: crm, outlook, newest or skip (leave both "
        "and ask, in Decisions); default: the folder's rule, else the run's source (export: crm, "
        "import: outlook, both ways: skip). `--on-conflict default` goes back to that.",
        show_default=False,
    ),
]
EnabledOpt = Annotated[
    bool | None,
    typer.Option("--enabled/--disabled", help="Whether the schedule runs it.", show_default=False),
]


def _show(p: Profile) -> None:
    from personsync.jobs.engine_adapter import needs_view

    console.print(f"[bold]{p.name}[/bold]  {p.direction} {p.folder}")
    if needs_view(p.direction):
        console.print(f"  view:      {p.view}")
    console.print(f"  schedule:  {p.schedule}{'' if p.enabled else ' (disabled)'}")
    console.print(f"  guard:     {p.max_change:g} %")
    console.print(f"  conflicts: {p.options.get('on_conflict') or 'default'}")
    nxt = p.next_run_at.strftime("%Y-%m-%d %H:%M UTC") if p.next_run_at else "-"
    console.print(f"  next run:  {nxt}")
    if p.last_run_at is not None:
        last = f"{p.last_run_at:%Y-%m-%d %H:%M} UTC {p.last_status} {p.last_run_id or ''}"
        console.print(f"  last run:  {last}")
        if p.last_error:
            console.print(f"  error:     {p.last_error}")


@profiles_app.command("list", help="Every profile, its schedule and how its last run went.")
def list_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    from personsync.profiles.store import list_profiles

    with open_persons(db) as pdb:
        found = list_profiles(pdb.engine)
    if json_out:
        print_json([p.to_dict() for p in found])
        return
    if not found:
        console.print("No profiles yet: personsync profiles create NAME --direction … --folder …")
    for p in found:
        _show(p)


@profiles_app.command("show", help="One profile.")
def show_cmd(name: NameArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    from personsync.profiles.store import get

    with open_persons(db) as pdb:
        p = get(pdb.engine, name)
    if json_out:
        print_json(p.to_dict())
    else:
        _show(p)


def _changed(base: Profile, on_conflict: str | None = None, **given: Any) -> Profile:
    from dataclasses import replace

    from personsync.errors import UsageError
    from personsync.sync.policies import POLICIES

    changes = {k: v for k, v in given.items() if v is not None}
    if on_conflict is not None:
        if on_conflict not in (*POLICIES, "default"):
            raise UsageError(
                f"--on-conflict {on_conflict}: unknown policy",
                hint=f"use one of: {', '.join(POLICIES)}, default",
            )
        options = {k: v for k, v in base.options.items() if k != "on_conflict"}
        if on_conflict != "default":
            options["on_conflict"] = on_conflict
        changes["options"] = options
    if "every_minutes" in changes:
        changes["cron"] = None
    elif "cron" in changes:
        changes["every_minutes"] = None
    return replace(base, **changes)


@profiles_app.command("create", help="Save a new profile (checked first: folder, view, schedule).")
def create_cmd(
    name: NameArg,
    direction: Annotated[str, typer.Option("--direction", help="export or import.")],
    folder: Annotated[str, typer.Option("--folder", help="The contact folder.")],
    view: ViewOpt = None,
    every: EveryOpt = None,
    cron: CronOpt = None,
    max_change: MaxChangeOpt = None,
    on_conflict: ConflictOpt = None,
    enabled: EnabledOpt = None,
    db: DbOption = None,
) -> None:
    from personsync.persons import ALL_PERSONS
    from personsync.profiles.store import Profile, save

    base = Profile(name, direction, folder, view or ALL_PERSONS)
    profile = _changed(
        base,
        on_conflict,
        every_minutes=every,
        cron=cron,
        max_change=max_change,
        enabled=enabled,
    )
    with open_persons(db) as pdb:
        _show(save(pdb, profile))


@profiles_app.command("edit", help="Change some settings of a profile (the others are kept).")
def edit_cmd(
    name: NameArg,
    rename: Annotated[str | None, typer.Option("--rename", help="A new name.")] = None,
    direction: DirectionOpt = None,
    folder: FolderOpt = None,
    view: ViewOpt = None,
    every: EveryOpt = None,
    cron: CronOpt = None,
    max_change: MaxChangeOpt = None,
    on_conflict: ConflictOpt = None,
    enabled: EnabledOpt = None,
    db: DbOption = None,
) -> None:
    from personsync.profiles.store import get, save

    with open_persons(db) as pdb:
        base = get(pdb.engine, name)
        profile = _changed(
            base,
            on_conflict,
            name=rename,
            direction=direction,
            folder=folder,
            view=view,
            every_minutes=every,
            cron=cron,
            max_change=max_change,
            enabled=enabled,
        )
        _show(save(pdb, profile, replace_name=name))


@profiles_app.command("delete", help="Delete a profile (asks first; its runs stay in the journal).")
def delete_cmd(name: NameArg, db: DbOption = None, yes: YesOption = False) -> None:
    from personsync.profiles.store import delete_profile, get

    with open_persons(db) as pdb:
        get(pdb.engine, name)
        if not yes and not (
            sys.stdin.isatty() and typer.confirm(f"Delete profile {name!r}?", default=False)
        ):
            console.print("nothing was deleted (pass --yes to delete without asking)")
            raise typer.Exit(1)
        delete_profile(pdb.engine, name)
    console.print(f"deleted profile {name!r}")


def _outcome(runs: list[ProfileRun], json_out: bool) -> int:
    if json_out:
        print_json([r.__dict__ for r in runs])
    for r in runs if not json_out else []:
        line = f"{r.profile}: {r.status}" + (f" (run {r.run_id})" if r.run_id else "")
        console.print(line + (f": {r.error}" if r.error else ""))
    return max((r.exit_code for r in runs), default=0)


@profiles_app.command("run", help="Run a profile now, as its schedule would.\n\n" + EXIT_CODES_HELP)
def run_cmd(
    name: NameArg, db: DbOption = None, yes: YesOption = False, json_out: JsonOption = False
) -> None:
    from personsync.cli.sync_run import say_waits
    from personsync.profiles.runner import run_profile
    from personsync.profiles.store import get

    with open_persons(db) as pdb:
        result = run_profile(pdb, get(pdb.engine, name), confirmed=yes, on_event=say_waits)
    raise typer.Exit(_outcome([result], json_out))


@app.command(
    "run-due",
    help="Run every enabled profile whose time has come, one after another; for cron or a "
    "systemd timer (`* * * * * personsync run-due`). A failing profile is recorded and retried "
    "at its next time; the others still run. The exit code is the worst of the runs'.\n\n"
    + EXIT_CODES_HELP,
)
def run_due_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    from personsync.cli.sync_run import say_waits
    from personsync.profiles.runner import run_due

    with open_persons(db) as pdb:
        runs = run_due(pdb, on_event=say_waits)
    if not runs and not json_out:
        console.print("no profile is due")
    raise typer.Exit(_outcome(runs, json_out))
