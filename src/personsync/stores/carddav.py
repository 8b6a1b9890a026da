"""`carddav:` contact folders: an address book on a CardDAV server (RFC 6352).

`carddav:https://host/path/to/addressbook/` is one address book; `folders list
carddav:https://host/` finds the user's address books (`carddav_discovery`). Credentials:
`carddav_auth`. The item id is the card's href as the server gave it, the version its ETag.

- Listing: `sync-collection` (RFC 6578) where the server has it; its token and the href → ETag
  map are the folder's sync state (`export_state`), so a no-op run lists in one request. A token
  the server forgot (403 `valid-sync-token`, 409, 410, 400) costs a full listing, never an
  error. Servers without it are listed by PROPFIND `getetag`.
- The state kept is the listing exactly as the server gave it with its token, never a map
  this run's writes changed: the next run asks what changed since that token, this run's own
  writes included. So no listing is taken after the writes (at 10,000 cards a 2.4 MB answer,
  5 to 12 s of Radicale's time), and nothing depends on a server reporting a card made after
  the token and deleted since (RFC 6578 lets it leave such a card out: Xandikos does).
- Reading: `addressbook-multiget` in batches, several in flight.
- Writing: `PUT` with `If-None-Match: *` (create) or `If-Match` (update), `DELETE` with
  `If-Match`: a changed card is a `ConflictError` for that card only, which the engine reads
  again and plans anew in the same run (`sync.replan`). Several requests in flight
  (`concurrency`, default 4): the store has pipelined writes (`begin_create_many`).
- A lost answer (`UncertainOutcome`) is settled by looking at the card's href before sending
  again: a create's href is chosen here, so the card is found by it, never doubled.
- Cards: vCard 4.0 where the address book says it takes it, else 3.0; a card read is written
  back in its own version with every line personsync does not map, and its UID.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

from personsync.errors import (
    ConflictError,
    FolderNotFound,
    FormatError,
    ItemNotFound,
    StoreError,
    UncertainOutcome,
)
from personsync.formats.vcard import VCardExtra, card_version, read_text, write_card
from personsync.model import Contact
from personsync.stores import carddav_xml as dav
from personsync.stores.base import (
    Capabilities,
    Finish,
    FoundElsewhere,
    ItemRef,
    ReadProblem,
    StoreBase,
)
from personsync.stores.carddav_auth import find_credentials, split_user
from personsync.stores.carddav_moves import MovedCards
from personsync.stores.http import HttpClient, Reply, RetryPolicy

MULTIGET = 100  # hrefs per addressbook-multiget
WRITE_ATTEMPTS = 4  # sends of one write whose answers were lost
SERVICE = "the CardDAV server"
_VCARD = {"Content-Type": "text/vcard; charset=utf-8"}
_XML = {"Content-Type": "application/xml; charset=utf-8"}


class _TokenRefused(Exception):
    """The server no longer knows our sync token."""


def _one(results: list[ItemRef | StoreError]) -> ItemRef:
    if isinstance(results[0], StoreError):
        raise results[0]
    return results[0]


class CardDavStore(StoreBase):
    """One address book."""

    def __init__(
        self, client: HttpClient, collection: str, *, create: bool = True, version: str = ""
    ) -> None:
        self.client = client
        self.collection = collection if collection.endswith("/") else collection + "/"
        parts = urlsplit(self.collection)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.url = f"carddav:{self.collection}"
        self.capabilities = Capabilities()
        self.create_missing = create
        # The address book is checked (and made) on first use, not when opened: a no-op run
        # with a sync token then costs its one listing request and nothing more.
        self._checked = False
        self._version = version  # "" until asked of the address book, before the first write
        self._token = ""
        self._versions: dict[str, str] = {}  # the listing at `_token`, as the server gave it
        self._sync_supported = True
        self._moved = MovedCards(client, self.collection)

    # --- listing --------------------------------------------------------------------------

    def _check(self, *, version: bool = False) -> None:
        """That the address is an address book (made when missing and allowed), and the vCard
        version to write there; asked once."""
        if self._checked and (self._version or not version):
            return
        found = _open_collection(self.client, self.collection, create=self.create_missing)
        self._version = self._version or found
        self._checked = True

    @property
    def version(self) -> str:
        self._check(version=True)
        return self._version

    def list_items(self) -> Iterator[ItemRef]:
        if not self._token:
            self._check()
        if self._sync_supported:
            try:
                self._sync(self._token)
            except _TokenRefused:
                self._check()
                self._sync("")
        if not self._sync_supported:
            self._check()
            self._versions = self._propfind_listing()
            self._token = ""
        return iter([ItemRef(h, v) for h, v in self._versions.items()])

    def _report(self, href: str, body: bytes, depth: str, what: str) -> Reply:
        headers = {**_XML, "Depth": depth}
        return self.client.send("REPORT", self._abs(href), content=body, headers=headers, what=what)

    def _sync(self, token: str) -> None:
        what = f"{self.url}: listing contacts"
        versions = dict(self._versions) if token else {}
        # One href per card however the server spells it (`@` or `%40`): by its decoded path.
        spelled = {dav.href_key(h): h for h in versions}
        own = dav.href_key(self.path)
        while True:
            reply = self._report(self.path, dav.sync_collection(token), "1", what)
            # A token refused, or the address book gone (404): checked, then listed afresh.
            if token and (reply.status in (400, 403, 404, 409, 410, 412) or _forgot(reply)):
                raise _TokenRefused
            if not token and reply.status in (400, 403, 405, 501):
                self._sync_supported = False  # no sync-collection here: PROPFIND lists
                return
            status = self._multistatus(reply, what)
            truncated = False
            for item in status.responses:
                key = dav.href_key(item.href)
                if key == own:
                    truncated = truncated or item.status == 507
                    continue
                versions.pop(spelled.pop(key, item.href), None)
                if item.status != 404 and item.etag:
                    versions[item.href] = item.etag
                    spelled[key] = item.href
            token = status.sync_token
            self._checked = True  # it answered sync-collection: an address book is there
            if not truncated or not token:
                break
        # Committed only after the whole listing: a failure midway keeps the old state.
        self._versions, self._token = versions, token

    def _propfind_listing(self) -> dict[str, str]:
        what = f"{self.url}: listing contacts"
        status = self._propfind(
            self.path, "1", what, (dav.DAV, "getetag"), (dav.DAV, "resourcetype")
        )
        own = dav.href_key(self.path)
        return {
            r.href: r.etag
            for r in status.responses
            if dav.href_key(r.href) != own
            and r.etag
            and dav.q(dav.DAV, "collection") not in r.resource_types()
        }

    def _multistatus(self, reply: Reply, what: str) -> dav.Multistatus:
        if reply.status != 207:
            raise self.client.error_for(reply, what)
        try:
            return dav.parse_multistatus(reply.content)
        except ValueError as exc:
            raise StoreError(f"{what}: {exc}", hint="is this a CardDAV server?") from exc

    def _propfind(
        self, href: str, depth: str, what: str, *props: tuple[str, str]
    ) -> dav.Multistatus:
        reply = self.client.send(
            "PROPFIND",
            self._abs(href),
            content=dav.propfind(*props),
            headers={**_XML, "Depth": depth},
            what=what,
        )
        return self._multistatus(reply, what)

    def export_state(self) -> str | None:
        if not self._token:
            return None
        return json.dumps(
            {"url": self.collection, "token": self._token, "versions": self._versions}
        )

    def import_state(self, state: str | None) -> None:
        self._token, self._versions = "", {}
        try:
            data = json.loads(state) if state else None
        except ValueError:
            return  # a damaged state only costs a full listing
        if isinstance(data, dict) and data.get("url") == self.collection:
            self._token = str(data.get("token") or "")
            self._versions = {str(k): str(v) for k, v in (data.get("versions") or {}).items()}

    # --- reading --------------------------------------------------------------------------

    def _abs(self, href: str) -> str:
        return href if "://" in href else self.origin + href

    def _ours(self, href: str) -> bool:
        key, own = dav.href_key(href), dav.href_key(self.path)
        return key.startswith(own) and key != own

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        wanted = [i for i in dict.fromkeys(item_ids) if self._ours(i)]
        step = MULTIGET * self.client.max_connections  # replies held at once
        for start in range(0, len(wanted), step):
            part = wanted[start : start + step]
            batches = [part[n : n + MULTIGET] for n in range(0, len(part), MULTIGET)]
            for found in self.client.run_all([lambda b=b: self._multiget(b) for b in batches]):  # type: ignore[misc]
                yield from found

    def _multiget(self, hrefs: Sequence[str]) -> list[Contact | ReadProblem]:
        what = f"{self.url}: reading contacts"
        reply = self._report(self.path, dav.multiget(hrefs), "1", what)
        status = self._multistatus(reply, what)
        asked = {dav.href_key(h): h for h in hrefs}
        out: list[Contact | ReadProblem] = []
        for item in status.responses:
            href = asked.get(dav.href_key(item.href))
            data = item.text(dav.CARD, "address-data")
            if href is None or item.status == 404 or not data:
                continue
            out.append(self._parse(href, item.etag, data))
        return out

    def _parse(self, href: str, etag: str, data: str) -> Contact | ReadProblem:
        for got in read_text(data, source=f"{self.url}{href.rpartition('/')[2]}"):
            if isinstance(got, FormatError):
                return ReadProblem(href, got)
            return replace(got, item_id=href, version=etag)
        return ReadProblem(href, FormatError("no card at this address", source=href))

    def _get(self, href: str, what: str) -> Contact | None:
        """One card as it is now, or None when it is gone."""
        reply = self.client.send("GET", self._abs(href), what=what)
        if reply.status in (404, 410):
            return None
        if not reply.ok:
            raise self.client.error_for(reply, what)
        got = self._parse(href, reply.header("ETag"), reply.text)
        if isinstance(got, ReadProblem):
            raise got.error
        return got

    def find_elsewhere(
        self, customer_ids: Sequence[str]
    ) -> tuple[dict[str, list[FoundElsewhere]], set[str]]:
        """The cards in the user's other address books carrying each Customer ID (moved
        there), and the Customer IDs not searched (`carddav_moves`)."""
        return self._moved.find(customer_ids)

    # --- writing --------------------------------------------------------------------------

    def _card(self, contact: Contact, uid: str) -> bytes:
        return write_card(contact, card_version(contact, self._version or "3.0"), uid=uid)

    def _put(self, href: str, body: bytes, condition: dict[str, str], what: str) -> Reply:
        headers = {**_VCARD, **condition}
        return self.client.send("PUT", self._abs(href), content=body, headers=headers, what=what)

    def _etag_after(self, href: str, reply: Reply, what: str) -> str:
        """The ETag of a card just written: from the answer, else asked (a server that changed
        the card as it stored it may send none)."""
        etag = reply.header("ETag")
        if not etag or etag.startswith("W/"):
            found = self._propfind(href, "0", what, (dav.DAV, "getetag")).responses
            return found[0].etag if found else ""
        return etag

    def create(self, contact: Contact) -> ItemRef:
        return _one(self.create_many([contact]))

    def update(self, old: Contact, new: Contact) -> ItemRef:
        return _one(self.update_many([(old, new)]))

    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        return self.begin_create_many(contacts)()

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        return self.begin_update_many(pairs)()

    def begin_create_many(self, contacts: Sequence[Contact]) -> Finish:
        self._check(version=True)  # here, not in the workers
        return self.client.begin([lambda c=c: self._create_one(c) for c in contacts])  # type: ignore[misc]

    def begin_update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> Finish:
        self._check(version=True)
        return self.client.begin([lambda p=p: self._update_one(*p) for p in pairs])  # type: ignore[misc]

    def _create_one(self, contact: Contact) -> ItemRef | StoreError:
        what = f"{self.url}: creating {contact.display_name}"
        attempt = 0
        while True:
            uid = str(uuid.uuid4())
            href = self.path + quote(uid) + ".vcf"
            body = self._card(contact, uid)
            try:
                reply = self._put(href, body, {"If-None-Match": "*"}, what)
            except UncertainOutcome as exc:
                # Did it land? The href is ours alone: if a card is there, it is this one.
                settled = self._settle(href, what)
                if settled is not None:
                    return settled
                attempt += 1
                if attempt >= WRITE_ATTEMPTS:
                    return exc
                continue
            except StoreError as exc:
                return exc
            if reply.status in (409, 412) and attempt + 1 < WRITE_ATTEMPTS:
                # 412: the href is taken (a UUID clash). 409: Xandikos, busy committing another
                # card, did not find the address book for a moment; nothing was written.
                attempt += 1
                if reply.status == 409:
                    self.client.wait(self.client.retry.delay(attempt, None), "HTTP 409; again")
                continue
            if not reply.ok:
                return self.client.error_for(reply, what)
            try:
                return ItemRef(href, self._etag_after(href, reply, what))
            except StoreError as exc:
                return exc

    def _settle(self, href: str, what: str) -> ItemRef | None:
        found = self._propfind_etag(href, what)
        if found:
            return ItemRef(href, found)
        return None

    def _propfind_etag(self, href: str, what: str) -> str:
        reply = self.client.send(
            "PROPFIND",
            self._abs(href),
            content=dav.propfind((dav.DAV, "getetag")),
            headers={**_XML, "Depth": "0"},
            what=what,
        )
        if reply.status in (404, 410):
            return ""
        found = self._multistatus(reply, what).responses
        return found[0].etag if found else ""

    def _update_one(self, old: Contact, new: Contact) -> ItemRef | StoreError:
        href = old.item_id
        what = f"{self.url}: updating {new.display_name}"
        uid = old.extra.uid if isinstance(old.extra, VCardExtra) else ""
        # The card is written in the version it was read in, with the lines it kept.
        new = replace(new, extra=new.extra if new.extra is not None else old.extra)
        body = self._card(new, uid)
        last = _lost(what)
        for _ in range(WRITE_ATTEMPTS):
            try:
                reply = self._put(href, body, {"If-Match": _quoted(old.version)}, what)
            except UncertainOutcome as exc:
                try:
                    settled = self._settle_update(old, new, what)
                except StoreError as problem:
                    return problem
                if settled is None:
                    last = exc
                    continue  # not written: send it again
                return settled
            except StoreError as exc:
                return exc
            if reply.status == 412:
                return self._conflict(href, what)
            if reply.status == 409:  # a busy server (see _create_one); If-Match keeps it safe
                last = self.client.error_for(reply, what)
                self.client.wait(self.client.retry.delay(0, None), "HTTP 409; again")
                continue
            if reply.status in (404, 410):
                return ItemNotFound(f"{what}: the card is gone from {SERVICE}")
            if not reply.ok:
                return self.client.error_for(reply, what)
            try:
                return ItemRef(href, self._etag_after(href, reply, what))
            except StoreError as exc:
                return exc
        return last

    def _settle_update(self, old: Contact, new: Contact, what: str) -> ItemRef | StoreError | None:
        """After a lost answer: None when the card is unchanged (send again), its ref when it
        holds what was sent, a conflict when someone else changed it."""
        now = self._get(old.item_id, what)
        if now is None:
            return ItemNotFound(f"{what}: the card is gone from {SERVICE}")
        if now.version == old.version:
            return None
        if now.record == new.record and now.customer_id == new.customer_id:
            return ItemRef(old.item_id, now.version)
        return self._conflict(old.item_id, what)

    def _conflict(self, href: str, what: str) -> ConflictError:
        return ConflictError(
            f"{what}: the card changed on {SERVICE} since it was read",
            hint="a sync run reads it again and plans it anew",
        )

    def delete(self, ref: ItemRef) -> None:
        what = f"{self.url}: deleting contact {ref.item_id}"
        for _ in range(WRITE_ATTEMPTS):  # ends by `break` when the card is gone
            try:
                reply = self.client.send(
                    "DELETE",
                    self._abs(ref.item_id),
                    headers={"If-Match": _quoted(ref.version)},
                    what=what,
                )
            except UncertainOutcome:
                etag = self._propfind_etag(ref.item_id, what)
                if not etag:
                    break  # gone: our delete landed
                if etag != ref.version:
                    raise self._conflict(ref.item_id, what) from None
                continue
            if reply.status == 412:
                raise self._conflict(ref.item_id, what)
            if reply.status in (404, 410):
                break  # gone already (deleted elsewhere): what the delete was for is done
            if not reply.ok:
                raise self.client.error_for(reply, what)
            break
        else:  # every answer lost, and the card still there: not deleted
            raise _lost(what)

    def close(self) -> None:
        self.client.close()


def _lost(what: str) -> StoreError:
    return StoreError(f"{what}: the answer was lost {WRITE_ATTEMPTS} times", hint="run again")


def _forgot(reply: Reply) -> bool:
    return not reply.ok and "valid-sync-token" in dav.error_names(reply.content)


def _quoted(etag: str) -> str:
    """An ETag as If-Match wants it: quoted (some servers list it bare)."""
    return etag if etag.startswith(('"', "W/")) else f'"{etag}"'


# --- opening --------------------------------------------------------------------------------


def make_client(url: str, **options: Any) -> HttpClient:
    """A client for the server of `url` (no user information in it; see `carddav_auth`)."""
    creds = find_credentials(
        url, user=options.get("user", ""), password=options.get("password", "")
    )
    return HttpClient(
        "",
        service=f"the CardDAV server {split_user(url)[0].split('/')[2]}",
        auth=(creds.user, creds.password) if creds else None,
        timeout=float(options.get("timeout", 30.0)),
        retry=options.get("retry") or RetryPolicy(),
        max_connections=int(options.get("concurrency", 4)),
        transport=options.get("transport"),
        on_wait=options.get("on_wait"),
    )


def _user_url(rest: str) -> tuple[str, str]:
    clean, user = split_user(rest)
    return clean, user


def open_store(rest: str, *, create: bool = True, **options: Any) -> CardDavStore:
    """The address book at `rest`; nothing is asked of the server until the store is used."""
    url, user = _user_url(rest)
    client = make_client(rest, **({"user": user} | options))
    return CardDavStore(client, url, create=create, version=options.get("version") or "")


def _collection(client: HttpClient, url: str, what: str) -> dav.Response | None:
    """The address's own properties, or None when nothing is there (a 404, or a multistatus
    whose one response is 404, as Xandikos answers)."""
    props = dav.propfind((dav.DAV, "resourcetype"), (dav.CARD, "supported-address-data"))
    headers = {**_XML, "Depth": "0"}
    reply = client.send("PROPFIND", url, content=props, headers=headers, what=what)
    if reply.status in (404, 410):
        return None
    if reply.status != 207:
        raise client.error_for(reply, what)
    try:
        found = dav.parse_multistatus(reply.content).responses
    except ValueError as exc:
        raise StoreError(f"{what}: {exc}", hint="is this a CardDAV address?") from exc
    return None if not found or found[0].status == 404 else found[0]


def _open_collection(client: HttpClient, url: str, *, create: bool) -> str:
    """Check that `url` is an address book (making it when asked); returns its vCard version."""
    what = f"carddav:{url}"
    found = _collection(client, url, what)
    if found is None and create:
        name = url.rstrip("/").rpartition("/")[2] or "Contacts"
        made = client.send(
            "MKCOL", url, content=dav.mkcol_addressbook(name), headers=_XML, what=what
        )
        if made.status not in (200, 201):
            raise StoreError(
                f"{what}: the address book does not exist and {client.service} would not create "
                f"it (HTTP {made.status})",
                hint="create it in the server's web interface, or name an existing one "
                "(`personsync folders list carddav:https://host/`)",
            )
        found = _collection(client, url, what)
    if found is None:
        raise FolderNotFound(
            f"{what}: no address book at this address",
            hint="list the address books with `personsync folders list carddav:https://host/`",
        )
    if dav.q(dav.CARD, "addressbook") not in found.resource_types():
        raise StoreError(
            f"{what}: this address is not an address book",
            hint="list the address books with `personsync folders list carddav:https://host/`",
        )
    return "4.0" if "4.0" in set(dav.vcard_versions(found)) else "3.0"


def describe_folders(rest: str, **options: Any) -> list[tuple[str, str]]:
    """(folder URL, display name) of each address book found from `rest` (discovery)."""
    from personsync.stores.carddav_discovery import discover

    url, user = _user_url(rest)
    client = make_client(rest, **({"user": user} | options))
    try:
        return [(f"carddav:{book.url}", book.display_name) for book in discover(client, url)]
    finally:
        client.close()


def list_folders(rest: str, **options: Any) -> list[str]:
    return [folder for folder, _ in describe_folders(rest, **options)]
