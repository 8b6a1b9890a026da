"""`graph:` contact folders: Outlook contacts in Microsoft 365 and Outlook.com via Microsoft Graph.

`graph:Contacts` is the mailbox's default contact folder, `graph:Contacts/CRM Members` a folder
under it (any depth), `graph:` alone lists the folders. Listing uses delta per folder: the delta
link and the id → changeKey map are the store's sync state (`export_state`/`import_state`), so a
no-op re-run costs one delta round and no per-contact request. Reads and writes go in `$batch`es
of 20. The item version is Graph's changeKey.

A create whose answer was lost (timeout, dropped connection) may have happened: before sending it
again the store looks the contact up by its Customer ID, so no duplicate is made. (A contact
without a Customer ID is sent again: the engine always sets one.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from personsync.errors import ConflictError, FormatError, ItemNotFound, StoreError
from personsync.graph import mapping
from personsync.graph.client import Counters, GraphClient, Reply, UncertainOutcome
from personsync.graph.config import STORE_DEFAULTS
from personsync.graph.connect import make_client
from personsync.graph.emptying import resend_without_emptied
from personsync.graph.folders import ROOT, Folder, default_folder_id, query, resolve_folder, walk
from personsync.graph.service_errors import is_gone
from personsync.model import Contact
from personsync.stores.base import (
    Capabilities,
    FoundElsewhere,
    ItemRef,
    ReadProblem,
    StoreBase,
)

DELTA_PAGE = 200  # Prefer: odata.maxpagesize; the service caps near 200
CREATE_ATTEMPTS = 4
READ_CHUNK = 500  # contacts read per get_many step: their replies are held together
# Customer ID searches (`$filter` on an extended property) one store sends in its life (a run):
# they are the slowest reads the service has, and a run needing more is looking for many lost
# contacts at once, which a person should see before it goes on.
CUSTOMER_ID_LOOKUPS = 1_000
# Of those, the searches one run may spend on linked contacts missing from the folder (moved to
# another folder, or deleted?): past it, the rest are "not searched" and the engine keeps them
# as they are until a later run (a folder emptied by the thousand is the guard's business).
ELSEWHERE_LOOKUPS = 200


def _read_query() -> str:
    return query({"$select": ",".join(mapping.SELECT), "$expand": mapping.expand_param()})


class GraphStore(StoreBase):
    """One Outlook contact folder."""

    def __init__(self, client: GraphClient, folder: Folder, *, owns_client: bool = True) -> None:
        self.client = client
        self.folder = folder
        self.url = f"graph:{folder.path}"
        self.capabilities = Capabilities()
        self._owns_client = owns_client
        self._delta_link: str | None = None
        self._versions: dict[str, str] = {}
        self.mbox = client.mailbox_path
        self.lookups = 0  # Customer ID searches sent (bounded by CUSTOMER_ID_LOOKUPS)
        self.elsewhere = 0  # of those, for contacts missing from the folder (find_elsewhere)
        self._root_id: str | None = None  # the default Contacts folder's id, once asked
        self._folder_names: dict[str, str] = {}

    @property
    def _contacts_url(self) -> str:
        """Where new contacts go: the folder, or `/me/contacts` (the default folder) while the
        default folder's id is not known."""
        if self.folder.id:
            return f"{self.mbox}/contactFolders/{self.folder.id}/contacts"
        return f"{self.mbox}/contacts"

    def _learn_folder_id(self, item: Any) -> None:
        if not self.folder.id and isinstance(item, dict) and item.get("parentFolderId"):
            self.folder = Folder(str(item["parentFolderId"]), self.folder.path)

    @property
    def counters(self) -> Counters:
        return self.client.counters

    # --- listing (delta) ------------------------------------------------------------------

    def list_items(self) -> Iterator[ItemRef]:
        if not self.folder.id:
            self.folder = Folder(default_folder_id(self.client), self.folder.path)
            if not self.folder.id:
                return iter([])  # no contact and no folder in the mailbox: nothing to list
        try:
            versions = self._delta_round(self._delta_link)
        except _DeltaReset:
            # The service forgot our sync state (410 / syncStateNotFound / mangled token):
            # start again with a full round; the engine matches by Customer ID, so no doubles.
            versions = self._delta_round(None)
        return iter([ItemRef(i, v) for i, v in versions.items()])

    def _delta_round(self, link: str | None) -> dict[str, str]:
        versions = dict(self._versions) if link else {}
        url: str | None = link or (
            f"{self.mbox}/contactFolders/{self.folder.id}/contacts/delta"
            f"?{query({'$select': 'changeKey'})}"
        )
        headers = {"Prefer": f"odata.maxpagesize={DELTA_PAGE}"}
        what = f"{self.url}: listing contacts"
        while url:
            reply = self.client.send("GET", url, headers=headers, what=what)
            if link and (
                reply.status == 410
                or reply.error_code.casefold() == "syncstatenotfound"
                or (reply.status == 400 and url == link)
            ):
                raise _DeltaReset
            if not reply.ok:
                raise self.client.error(reply, what)
            for item in reply.body.get("value", []):
                if "@removed" in item:
                    versions.pop(item["id"], None)
                else:
                    versions[item["id"]] = str(item.get("changeKey") or "")
            url = reply.body.get("@odata.nextLink")
            if "@odata.deltaLink" in reply.body:
                self._delta_link = reply.body["@odata.deltaLink"]
        # Committed only after the whole round: a failure midway keeps the old state.
        self._versions = versions
        return versions

    def export_state(self) -> str | None:
        if not self._delta_link:
            return None
        return json.dumps(
            {"folder": self.folder.id, "delta": self._delta_link, "versions": self._versions}
        )

    def import_state(self, state: str | None) -> None:
        self._delta_link, self._versions = None, {}
        if not state:
            return
        try:
            data = json.loads(state)
        except ValueError:
            return  # a damaged state only costs a full listing
        if isinstance(data, dict) and data.get("folder") == self.folder.id:
            self._delta_link = data.get("delta")
            self._versions = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}

    # --- reading --------------------------------------------------------------------------

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        # A chunk of replies at a time in memory, however many are asked for.
        for start in range(0, len(item_ids), READ_CHUNK):
            yield from self._get_chunk(item_ids[start : start + READ_CHUNK])

    def _get_chunk(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        params = _read_query()
        requests = [
            {"id": str(n), "method": "GET", "url": f"{self.mbox}/contacts/{quote(i)}?{params}"}
            for n, i in enumerate(item_ids)
        ]
        replies = self.client.batch(requests, what=f"{self.url}: reading contacts")
        for n, item_id in enumerate(item_ids):
            reply = replies[str(n)]
            if is_gone(reply.status, reply.body):
                # Deleted, or a stale or foreign id (400 ErrorInvalidIdMalformed): this item
                # is not in the mailbox; the others proceed.
                self._versions.pop(item_id, None)
                continue
            if not reply.ok:
                raise self.client.error(reply, f"{self.url}: reading contact {item_id}")
            yield self._parse(item_id, reply.body)

    def _parse(self, item_id: str, body: dict[str, Any]) -> Contact | ReadProblem:
        try:
            contact = mapping.contact_from_graph(body)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            name = str(body.get("displayName") or "") if isinstance(body, dict) else ""
            return ReadProblem(
                item_id,
                FormatError(f"cannot read this contact: {exc}", source=self.url, name=name),
            )
        self._versions[contact.item_id] = contact.version
        return contact

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        """Every contact of the mailbox with this Customer ID (any folder: a person may have
        moved it), the folder's own first."""
        return self._find_many([customer_id]).get(customer_id, [])

    def find_elsewhere(
        self, customer_ids: Sequence[str]
    ) -> tuple[dict[str, list[FoundElsewhere]], set[str]]:
        """The contacts outside this folder carrying each Customer ID (a person moved them), by
        the mailbox-wide search alone; at most ELSEWHERE_LOOKUPS Customer IDs a run (and within
        CUSTOMER_ID_LOOKUPS), the rest are returned as not searched."""
        wanted = [c for c in dict.fromkeys(customer_ids) if c]
        room = max(0, min(ELSEWHERE_LOOKUPS - self.elsewhere, CUSTOMER_ID_LOOKUPS - self.lookups))
        asked, rest = wanted[:room], set(wanted[room:])
        self.elsewhere += len(asked)
        self.lookups += len(asked)
        found: dict[str, list[FoundElsewhere]] = {}
        requests = [
            {"id": str(n), "method": "GET", "url": self._customer_id_urls(cid)[0]}
            for n, cid in enumerate(asked)
        ]
        replies = self.client.batch(requests, what=f"{self.url}: finding moved contacts")
        for n, cid in enumerate(asked):
            reply = replies[str(n)]
            if not reply.ok:
                raise self.client.error(reply, f"{self.url}: finding Customer ID {cid}")
            for item in reply.body.get("value", []):
                where = str(item.get("parentFolderId") or "")
                got = self._found(item)
                # The service compares values case-insensitively: the exact one is ours.
                if got is not None and got.customer_id == cid and where != self.folder.id:
                    found.setdefault(cid, []).append(
                        FoundElsewhere(got.item_id, self._folder_name(where))
                    )
        return found, rest

    def _folder_name(self, folder_id: str) -> str:
        """`graph:Contacts/…` for a folder of the mailbox, by walking up its parents."""
        if folder_id not in self._folder_names:
            if self._root_id is None:
                self._root_id = default_folder_id(self.client)
            names: list[str] = []
            current = folder_id
            for _ in range(16):  # folders nest a few levels; a loop is no path
                if not current or current == self._root_id:
                    break
                what = f"{self.url}: naming folder {current}"
                reply = self.client.send(
                    "GET",
                    f"{self.mbox}/contactFolders/{quote(current)}?"
                    + query({"$select": "displayName,parentFolderId"}),
                    what=what,
                )
                if not reply.ok:
                    break
                names.insert(0, str(reply.body.get("displayName") or current))
                current = str(reply.body.get("parentFolderId") or "")
            self._folder_names[folder_id] = "graph:" + "/".join([ROOT, *names])
        return self._folder_names[folder_id]

    def _customer_id_urls(self, customer_id: str) -> list[str]:
        """The mailbox-wide search ("the filter is applied to all instances of the resource in
        the signed-in user's mailbox"), then the same filter on the folder itself, in case a
        real service limits `/me/contacts` to the default folder (undocumented either way)."""
        params = query(
            {
                "$filter": mapping.customer_id_filter(customer_id),
                "$select": ",".join((*mapping.SELECT, "parentFolderId")),
                "$expand": mapping.expand_param(),
                "$top": "100",
            }
        )
        urls = [f"{self.mbox}/contacts?{params}"]
        if self.folder.id:
            urls.append(f"{self.mbox}/contactFolders/{self.folder.id}/contacts?{params}")
        return urls

    def _count_lookups(self, n: int) -> None:
        self.lookups += n
        if self.lookups > CUSTOMER_ID_LOOKUPS:
            raise StoreError(
                f"{self.url}: more than {CUSTOMER_ID_LOOKUPS} contacts had to be searched for "
                "by Customer ID in one run",
                hint="many contacts were moved or deleted in Outlook; check the folder, then "
                "run again (the next run searches again)",
            )

    def _find_many(self, customer_ids: Sequence[str]) -> dict[str, list[Contact]]:
        """The contacts of each Customer ID that exist in the mailbox, looked up in batches:
        the mailbox-wide search first, the folder's own only for those it did not find. A
        contact in this folder comes first."""
        found: dict[str, list[Contact]] = {}
        wanted = [c for c in dict.fromkeys(customer_ids) if c]
        self._count_lookups(len(wanted))
        for step in (0, 1):
            asked: list[tuple[str, str]] = []
            for cid in wanted:
                urls = self._customer_id_urls(cid)
                if cid not in found and step < len(urls):
                    asked.append((cid, urls[step]))
            requests = [
                {"id": str(n), "method": "GET", "url": url} for n, (_, url) in enumerate(asked)
            ]
            replies = self.client.batch(requests, what=f"{self.url}: finding Customer IDs")
            for n, (cid, _) in enumerate(asked):
                reply = replies[str(n)]
                if not reply.ok:
                    raise self.client.error(reply, f"{self.url}: finding Customer ID {cid}")
                hits = [h for h in map(self._found, reply.body.get("value", [])) if h]
                # The service compares values case-insensitively: the exact one is ours.
                hits = [h for h in hits if h.customer_id == cid]
                if hits:
                    found[cid] = sorted(hits, key=lambda h: h.item_id not in self._versions)
        return found

    def _found(self, item: dict[str, Any]) -> Contact | None:
        """A contact a search found; remembered as this folder's only if it is in it."""
        got = self._parse(str(item.get("id")), item)
        if not isinstance(got, Contact):
            return None
        if item.get("parentFolderId") not in (None, self.folder.id):
            self._versions.pop(got.item_id, None)
        return got

    # --- writing --------------------------------------------------------------------------

    def create(self, contact: Contact) -> ItemRef:
        return _one(self.create_many([contact]))

    def update(self, old: Contact, new: Contact) -> ItemRef:
        return _one(self.update_many([(old, new)]))

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        results: dict[int, ItemRef | StoreError] = {}
        pending = list(range(len(contacts)))
        for attempt in range(CREATE_ATTEMPTS):
            if not pending:
                break
            uncertain: list[int] = []
            for start in range(0, len(pending), 20):
                uncertain += self._create_chunk(contacts, pending[start : start + 20], results)
            pending = []
            if uncertain:
                # A write whose answer was lost may still be running on the service: give it
                # one timeout to finish, so the lookup below sees it.
                time.sleep(self.client.timeout)
            # Their answers were lost: they may exist already. Customer ID tells.
            found = self._find_many([contacts[n].customer_id for n in uncertain])
            for n in uncertain:
                # Only a contact in this folder is the one the lost answer was about: the same
                # Customer ID in another folder (the Person exported there too) is not.
                here = [
                    h for h in found.get(contacts[n].customer_id, ()) if h.item_id in self._versions
                ]
                if here:
                    results[n] = ItemRef(here[0].item_id, here[0].version)
                elif attempt + 1 < CREATE_ATTEMPTS:
                    pending.append(n)
                else:
                    results[n] = StoreError(
                        f"{self.url}: creating {contacts[n].display_name} kept failing",
                        hint="run again later",
                    )
        return [results[n] for n in range(len(contacts))]

    def _create_chunk(
        self,
        contacts: Sequence[Contact],
        chunk: list[int],
        results: dict[int, ItemRef | StoreError],
    ) -> list[int]:
        """Create one batch; returns the indexes whose outcome is unknown."""
        requests = [
            {
                "id": str(n),
                "method": "POST",
                "url": self._contacts_url,
                "headers": {"Content-Type": "application/json"},
                "body": mapping.create_body(contacts[n]),
            }
            for n in chunk
        ]
        try:
            replies = self.client.batch(requests, what=f"{self.url}: creating contacts")
        except UncertainOutcome:
            return chunk
        uncertain: list[int] = []
        for n in chunk:
            reply = replies[str(n)]
            if reply.ok:
                self._learn_folder_id(reply.body)
                item_id, version = str(reply.body["id"]), str(reply.body.get("changeKey", ""))
                self._versions[item_id] = version
                results[n] = ItemRef(item_id, version)
            elif reply.status == 504:
                uncertain.append(n)
            else:
                who = contacts[n].display_name
                results[n] = self.client.error(reply, f"{self.url}: creating {who}")
        return uncertain

    def _current_versions(self, item_ids: Sequence[str]) -> dict[str, str | None]:
        """The changeKey of each item: from this run's listing, else asked in a batch."""
        out: dict[str, str | None] = {i: self._versions[i] for i in item_ids if i in self._versions}
        missing = [i for i in item_ids if i not in out]
        if missing:
            requests = [
                {
                    "id": str(n),
                    "method": "GET",
                    "url": f"{self.mbox}/contacts/{quote(i)}?{query({'$select': 'changeKey'})}",
                }
                for n, i in enumerate(missing)
            ]
            replies = self.client.batch(requests, what=f"{self.url}: checking versions")
            for n, item_id in enumerate(missing):
                reply = replies[str(n)]
                if is_gone(reply.status, reply.body):
                    out[item_id] = None
                elif not reply.ok:
                    raise self.client.error(reply, f"{self.url}: checking contact {item_id}")
                else:
                    out[item_id] = str(reply.body.get("changeKey") or "")
        return out

    def _check(self, item_id: str, version: str, current: str | None) -> StoreError | None:
        if current is None:
            return ItemNotFound(f"{self.url}: no contact {item_id!r}")
        if current != version:
            return ConflictError(
                f"{self.url}: contact {item_id!r} changed in Outlook since it was read",
                hint="run again: the new version is read first",
            )
        return None

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        results: dict[int, ItemRef | StoreError] = {}
        current = self._current_versions([old.item_id for old, _ in pairs])
        requests: list[dict[str, Any]] = []
        for n, (old, new) in enumerate(pairs):
            now = current[old.item_id]
            problem = self._check(old.item_id, old.version, now)
            if problem is not None:
                results[n] = problem
                continue
            body = mapping.patch_body(old, new)
            if not body:
                results[n] = ItemRef(old.item_id, now or old.version)
                continue
            requests.append(
                {
                    "id": str(n),
                    "method": "PATCH",
                    "url": f"{self.mbox}/contacts/{quote(old.item_id)}",
                    "headers": {"Content-Type": "application/json"},
                    "body": body,
                }
            )
        replies: dict[str, Reply] = {}
        if requests:
            replies = self.client.batch(requests, what=f"{self.url}: updating contacts")
        refused = resend_without_emptied(
            self.client, requests, replies, what=f"{self.url}: updating contacts"
        )
        for rid, reply in replies.items():
            n = int(rid)
            item_id = pairs[n][0].item_id
            if reply.ok:
                version = str(reply.body.get("changeKey", ""))
                self._versions[item_id] = version
                results[n] = ItemRef(item_id, version)
                if rid in refused:
                    # Saved, except the emptied extended properties: reported, and tried
                    # again next run (the contact is not marked as in step).
                    results[n] = StoreError(
                        f"{self.url}: {pairs[n][1].display_name}: saved, but Outlook refused "
                        f"to empty {', '.join(refused[rid])}",
                        hint="empty it in Outlook by hand; Microsoft documents no way to "
                        "remove an extended property",
                    )
            else:
                who = pairs[n][1].display_name
                results[n] = self.client.error(reply, f"{self.url}: updating {who}")
                if rid in refused:
                    results[n] = StoreError(
                        f"{self.url}: {who}: Outlook refused to empty {', '.join(refused[rid])}",
                        hint="empty it in Outlook by hand; Microsoft documents no way to "
                        "remove an extended property",
                    )
        return [results[n] for n in range(len(pairs))]

    def delete(self, ref: ItemRef) -> None:
        current = self._current_versions([ref.item_id])[ref.item_id]
        problem = self._check(ref.item_id, ref.version, current)
        if problem is not None:
            raise problem
        what = f"{self.url}: deleting contact {ref.item_id}"
        reply = self.client.send("DELETE", f"{self.mbox}/contacts/{quote(ref.item_id)}", what=what)
        if not reply.ok and not is_gone(reply.status, reply.body):
            raise self.client.error(reply, what)
        self._versions.pop(ref.item_id, None)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class _DeltaReset(Exception):
    """The delta link is no longer valid."""


def _one(results: list[ItemRef | StoreError]) -> ItemRef:
    if isinstance(results[0], StoreError):
        raise results[0]
    return results[0]


def open_store(rest: str, *, create: bool = True, **options: Any) -> GraphStore:
    options = {**STORE_DEFAULTS, **options}
    client = options.pop("client", None)
    owns = client is None
    client = client or make_client(**options)
    try:
        folder = resolve_folder(client, rest or ROOT, create=create)
    except BaseException:
        if owns:
            client.close()
        raise
    return GraphStore(client, folder, owns_client=owns)


def list_folders(rest: str, **options: Any) -> list[str]:
    options = {**STORE_DEFAULTS, **options}
    client = options.pop("client", None)
    owns = client is None
    client = client or make_client(**options)
    try:
        return walk(client, resolve_folder(client, rest or ROOT, create=False))
    finally:
        if owns:
            client.close()
