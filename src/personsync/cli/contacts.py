"""`personsync contacts …` and `personsync folders …`: look into a contact folder."""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from personsync.cli.options import JsonOption
from personsync.cli.output import console, err, print_json, say_wait, to_json
from personsync.cli.root import app
from personsync.errors import ItemNotFound, UsageError
from personsync.fields import FIELDS

if TYPE_CHECKING:
    from personsync.model import Contact
    from personsync.stores.base import ContactStore, ReadProblem

FOLDER_URLS = (
    "Folder URLs: vcf:./contacts (a folder of .vcf files), vcf-file:people.vcf (many cards in "
    "one file), csv:contacts.csv (an Outlook CSV export), graph:Contacts or graph:Contacts/Team "
    "(Microsoft 365 / Outlook.com), carddav:https://user@host/path/to/addressbook/ (CardDAV)."
)

contacts_app = typer.Typer(
    help=f"Look into a contact folder: list its contacts, show one.\n\n{FOLDER_URLS}",
    no_args_is_help=True,
)
folders_app = typer.Typer(help=f"Contact folders.\n\n{FOLDER_URLS}", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")
app.add_typer(folders_app, name="folders")

FolderArg = Annotated[
    str, typer.Argument(metavar="FOLDER", help="The contact folder, e.g. csv:contacts.csv.")
]
EncodingOption = Annotated[
    str,
    typer.Option(
        "--encoding",
        help="csv: only. The file's encoding when not UTF-8 or cp1252 (e.g. cp1250).",
        show_default=False,
    ),
]
DateOrderOption = Annotated[
    str,
    typer.Option(
        "--date-order",
        help="csv: only. How the exporting machine wrote dates: MDY (3/22/1980), DMY, YMD.",
        show_default=False,
    ),
]
LimitOption = Annotated[
    int, typer.Option("--limit", min=0, help="Show at most this many contacts (0: all).")
]
_PHONES = tuple(f.name for f in FIELDS if f.kind == "phone")
_GROUP_TITLES = {
    "name": "Name",
    "work": "Work",
    "email": "E-mail",
    "phone": "Phones",
    "business": "Business address",
    "home": "Home address",
    "other": "Other address",
    "misc": "More",
}


def _open(folder: str, encoding: str, date_order: str) -> ContactStore:
    from personsync.stores import open_folder, split_url

    options: dict[str, Any] = {}
    if encoding:
        options["encoding"] = encoding
    if date_order:
        order = date_order.upper()
        if order not in ("MDY", "DMY", "YMD"):
            raise UsageError(f"unknown date order {date_order!r}", hint="use MDY, DMY or YMD")
        options["date_order"] = order
    if options and split_url(folder)[0] != "csv":
        raise UsageError("--encoding and --date-order are for csv: folders only")
    return open_folder(folder, create=False, on_wait=say_wait, **options)


def _report(problems: list[ReadProblem]) -> None:
    from rich.text import Text

    for problem in problems:
        err.print(Text.assemble(("problem: ", "bold red"), str(problem.error)))
    if problems:
        err.print(f"{len(problems)} contact(s) could not be read; the others are shown")


def _problem_json(problem: ReadProblem) -> dict[str, Any]:
    e = problem.error
    return {
        "item_id": problem.item_id,
        "source": e.source,
        "line": e.line,
        "name": e.name,
        "reason": e.reason,
    }


def _contact_json(contact: Contact) -> dict[str, Any]:
    data: dict[str, Any] = {
        "item_id": contact.item_id,
        "version": contact.version,
        "customer_id": contact.customer_id,
        "display_name": contact.display_name,
        "fields": contact.record.values(),
        "unmapped": list(contact.unmapped),
    }
    if isinstance(contact.extra, dict):
        data["other_columns"] = contact.extra
    return data


def _first_phone(contact: Contact) -> str:
    return next((getattr(contact.record, n) for n in _PHONES if getattr(contact.record, n)), "")


@contacts_app.command("list")
def list_contacts(
    folder: FolderArg,
    json_out: JsonOption = False,
    limit: LimitOption = 0,
    encoding: EncodingOption = "",
    date_order: DateOrderOption = "",
) -> None:
    """List the contacts of a folder: id, name, e-mail, phone, company, Customer ID.

    Contacts that cannot be read are reported on stderr (file, line, name), the rest listed.

    Exit code: 0 when every contact was read, 1 when some could not be.

    \b
    Examples:
      personsync contacts list csv:contacts.csv --limit 20
      personsync contacts list vcf:./cards --json
    """
    from rich.table import Table
    from rich.text import Text

    from personsync.model import Contact
    from personsync.stores.base import read_all

    # One contact at a time: a folder of 500,000 cards must not be held a second time as
    # Contacts and again as one JSON document (a 200 MB file peaked at 7 GB that way).
    problems: list[ReadProblem] = []
    rows: list[tuple[str, ...]] = []
    store = _open(folder, encoding, date_order)
    try:
        items = itertools.islice(read_all(store), limit or None)
        if json_out:
            out = sys.stdout
            out.write('{\n  "folder": ' + to_json(store.url))
            out.write(',\n  "contacts": [')
            first = True
            for item in items:
                if isinstance(item, Contact):
                    text = to_json(_contact_json(item))
                    out.write(("\n    " if first else ",\n    ") + text)
                    first = False
                else:
                    problems.append(item)
            out.write('\n  ],\n  "problems": ')
            out.write(to_json([_problem_json(p) for p in problems]))
            out.write("\n}\n")
            out.flush()
        else:
            for item in items:
                if isinstance(item, Contact):
                    r = item.record
                    cells = (item.item_id, item.display_name, r.email1, _first_phone(item))
                    rows.append((*cells, r.company, item.customer_id))
                else:
                    problems.append(item)
    finally:
        store.close()
    if not json_out:
        table = Table(box=None)
        # Ids are what `contacts show` takes: never shortened.
        width = max((len(row[0]) for row in rows), default=2)
        table.add_column("id", no_wrap=True, min_width=width)
        for title in ("name", "e-mail", "phone", "company", "customer id"):
            table.add_column(title, overflow="fold")
        for row in rows:
            table.add_row(*(Text(v) for v in row))
        console.print(table)
        console.print(f"{len(rows)} contact(s) in {store.url}")
    _report(problems)
    if problems:
        raise typer.Exit(1)


@contacts_app.command("show")
def show_contact(
    folder: FolderArg,
    item_id: Annotated[
        str, typer.Argument(metavar="ITEM", help="The contact's id, as `contacts list` shows.")
    ],
    json_out: JsonOption = False,
    encoding: EncodingOption = "",
    date_order: DateOrderOption = "",
) -> None:
    """Show one contact: every field, its Customer ID, and values that could not be mapped.

    Example:  personsync contacts show csv:contacts.csv r3f2a9c0d1e2b4a5c
    """
    from personsync.stores.base import ReadProblem

    store = _open(folder, encoding, date_order)
    try:
        got = list(store.get_many([item_id]))
    finally:
        store.close()
    if not got:
        raise ItemNotFound(
            f"{store.url}: no contact {item_id!r}",
            hint=f"see the ids with: personsync contacts list {folder}",
        )
    item = got[0]
    if isinstance(item, ReadProblem):
        raise item.error
    if json_out:
        print_json(_contact_json(item))
        return
    _show(item)


def _show(contact: Contact) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text(contact.display_name, style="bold"))
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="dim")
    table.add_column()
    group = ""
    for spec in FIELDS:
        value = getattr(contact.record, spec.name)
        if value in ("", None, ()):
            continue
        if spec.group != group:
            group = spec.group
            table.add_row(Text(_GROUP_TITLES[group], style="bold"), "")
        shown = "; ".join(value) if isinstance(value, tuple) else str(value)
        table.add_row(Text(f"  {spec.label}"), Text(shown))
    table.add_row(Text("Customer ID", style="bold"), Text(contact.customer_id or "(none)"))
    table.add_row(Text("Item id", style="bold"), Text(f"{contact.item_id} ({contact.version})"))
    console.print(table)
    if contact.unmapped:
        console.print(Text("Not mapped (kept in the folder, not synced):", style="bold yellow"))
        for message in contact.unmapped:
            console.print(Text(f"  {message}"))
    if isinstance(contact.extra, dict) and contact.extra:
        console.print(Text("Other columns kept in the file:", style="bold"))
        for column, value in contact.extra.items():
            console.print(Text(f"  {column}: {value}"))


@folders_app.command("list")
def list_contact_folders(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="Where to look, e.g. csv:./exports or graph:.")
    ],
    json_out: JsonOption = False,
) -> None:
    """List the contact folders reachable from URL, as folder URLs to use in other commands.

    \b
    Examples:
      personsync folders list csv:./exports   # every .csv file there
      personsync folders list graph:          # your mailbox's contact folders
    """
    from rich.text import Text

    from personsync.stores import describe_folders

    described = describe_folders(url)
    found = [folder for folder, _ in described]
    if json_out:
        print_json(found)
        return
    for folder, name in described:
        console.print(Text(f"{folder}  ({name})" if name else folder))
    if not found:
        err.print("no contact folders found")
