"""Contact folders of a mailbox: the default Contacts folder and folders under it, by path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from personsync.errors import ConflictError, FolderNotFound
from personsync.graph.client import GraphClient

ROOT = "Contacts"


def query(params: dict[str, str]) -> str:
    """A query string Graph reads as written ($ and OData punctuation left alone)."""
    return urlencode(params, safe="$,'()=: ", quote_via=quote)


@dataclass(frozen=True, slots=True)
class Folder:
    id: str  # "" for an empty default folder whose id no answer has told yet
    path: str  # "Contacts/CRM Members"


def _children(client: GraphClient, parent: str | None) -> list[dict[str, Any]]:
    mbox = client.mailbox_path
    url = (
        f"{mbox}/contactFolders"
        if parent is None
        else f"{mbox}/contactFolders/{parent}/childFolders"
    )
    url += "?" + query({"$select": "id,displayName,parentFolderId", "$top": "100"})
    return [f for page in client.pages(url, what="listing contact folders") for f in page["value"]]


def _split(path: str) -> list[str]:
    parts = [p.strip() for p in path.strip().strip("/").split("/") if p.strip()]
    if parts and parts[0].casefold() == ROOT.casefold():
        parts = parts[1:]
    return parts


def default_folder_id(client: GraphClient) -> str:
    """The id of the mailbox's default Contacts folder, from documented requests only: the
    `parentFolderId` of a folder under it (`GET /me/contactFolders` lists those), else of a
    contact in it (`GET /me/contacts`). "" when it has neither: the folder is empty, and the
    store creates through `/me/contacts` until a contact tells the id. (No page documents a
    well-known name such as `contactFolders/contacts`; see docs/graph.md.)"""
    mbox = client.mailbox_path
    for url in (f"{mbox}/contactFolders", f"{mbox}/contacts"):
        page = client.json(
            "GET",
            url + "?" + query({"$select": "parentFolderId", "$top": "1"}),
            what="finding the Contacts folder",
        )
        for item in page.get("value") or []:
            if item.get("parentFolderId"):
                return str(item["parentFolderId"])
    return ""


def _named(children: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [f for f in children if str(f.get("displayName", "")).casefold() == name.casefold()]


def resolve_folder(client: GraphClient, path: str, *, create: bool) -> Folder:
    """The folder at `path` under the default Contacts folder; made when `create`."""
    parts = _split(path)
    if not parts:
        return Folder(default_folder_id(client), ROOT)
    current = ""
    walked = [ROOT]
    for level, name in enumerate(parts):
        children = _children(client, None if level == 0 else current)
        match = _named(children, name)
        if match:
            current = match[0]["id"]
        elif create:
            parent = (
                f"{client.mailbox_path}/contactFolders"
                if level == 0
                else f"{client.mailbox_path}/contactFolders/{current}/childFolders"
            )
            try:
                made = client.json(
                    "POST", parent, json={"displayName": name}, what=f"creating folder {name}"
                )
                current = made["id"]
            except ConflictError:
                # Made meanwhile (ErrorFolderExists): two runs started on a new folder at once
                # both open it before either takes the folder's lease. Take the one made.
                again = _children(client, None if level == 0 else current)
                same = [
                    f for f in again if str(f.get("displayName", "")).casefold() == name.casefold()
                ]
                if not same:
                    raise
                current = same[0]["id"]
        else:
            existing = ", ".join(f"graph:{'/'.join([*walked, f['displayName']])}" for f in children)
            # Named as the person wrote it: `graph:Nope`, not an expanded `graph:Contacts/Nope`.
            raise FolderNotFound(
                f"graph:{path}: no such contact folder ({name!r} is not in "
                f"graph:{'/'.join(walked)})",
                hint=f"folders here: {existing}" if existing else "this folder has no subfolders",
            )
        walked.append(name if not match else match[0]["displayName"])
    return Folder(current, "/".join(walked))


def walk(client: GraphClient, start: Folder) -> list[str]:
    """The folder URLs at and under `start`, depth first."""
    out = [f"graph:{start.path}"]

    def visit(folder_id: str | None, prefix: str) -> None:
        for f in _children(client, folder_id):
            path = f"{prefix}/{f['displayName']}"
            out.append(f"graph:{path}")
            visit(f["id"], path)

    visit(None if start.path == ROOT else start.id, start.path)
    return out
