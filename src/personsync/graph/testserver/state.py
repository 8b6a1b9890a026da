"""The test server's data: users, their contact folders and contacts, and delta bookkeeping.

Shapes follow the real service (see docs/reference): every contact carries all its properties,
unset strings `null`, unset addresses `{}`, empty lists `[]`; `changeKey` and `@odata.etag`
change on every write; birthdays read back at 11:59:00Z; extended properties are kept apart
and only returned through `$expand`, their ids lower-cased.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STRING_PROPS: tuple[str, ...] = tuple(
    [
        "title",
        "givenName",
        "middleName",
        "surname",
        "generation",
        "initials",
        "nickName",
        "displayName",
        "fileAs",
        "jobTitle",
        "companyName",
        "department",
        "officeLocation",
        "profession",
        "manager",
        "assistantName",
        "spouseName",
        "personalNotes",
        "businessHomePage",
        "mobilePhone",
        "birthday",
        "yomiGivenName",
        "yomiSurname",
        "yomiCompanyName",
    ]
)
LIST_PROPS = ("categories", "children", "emailAddresses", "businessPhones", "homePhones",
              "imAddresses")  # fmt: skip
ADDRESS_PROPS = ("businessAddress", "homeAddress", "otherAddress")
ADDRESS_MEMBERS = ("street", "city", "state", "postalCode", "countryOrRegion")
# v1.0 properties that are one emailAddress each (in the v1.0 metadata msgraph-sdk 1.65 is built
# from); null until written.
EMAIL_PROPS = ("primaryEmailAddress", "secondaryEmailAddress", "tertiaryEmailAddress")
WRITABLE = (
    frozenset(STRING_PROPS)
    | frozenset(LIST_PROPS)
    | frozenset(ADDRESS_PROPS)
    | frozenset(EMAIL_PROPS)
    | {"parentFolderId"}
)
# What Outlook stores: 3 e-mail slots, 2 business and 2 home phones (more is refused).
LIST_CAPACITY = {"emailAddresses": 3, "businessPhones": 2, "homePhones": 2}
MIN_ID_BYTES = 16  # real ids are long base64; shorter text is not an id at all


class GraphFault(Exception):
    """An error answer: HTTP status and Graph's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str) -> str:
    # Immutable-id-like: long, base64url, stable for the item's life.
    raw = prefix.encode() + secrets.token_bytes(24)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_ID_TEXT = re.compile(r"^[A-Za-z0-9_+/-]+={0,2}$")


def well_formed(item_id: str) -> bool:
    """Whether `item_id` could be an id at all (base64 text of enough bytes)."""
    if not _ID_TEXT.match(item_id):
        return False
    core = item_id.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        raw = base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    except ValueError:
        return False
    return len(raw) >= MIN_ID_BYTES


def malformed() -> GraphFault:
    return GraphFault(400, "ErrorInvalidIdMalformed", "Id is malformed.")


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "displayName": self.display_name, "parentFolderId": self.parent_id}


@dataclass
class StoredContact:
    data: dict[str, Any]
    folder_id: str
    key: int  # creation order: stable key for delta paging
    seq: int  # mailbox change sequence of the last write
    ext: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower id → {"id", "value"}


@dataclass
class Tombstone:
    id: str
    folder_id: str
    key: int
    seq: int


class Mailbox:
    """One user's contacts. Every method runs under the server's lock."""

    def __init__(self, upn: str) -> None:
        self.upn = upn
        self.rest_enabled = True  # False: an account Graph cannot reach (404 for everything)
        self.quota_full = False  # True: writes answer 507 ErrorQuotaExceeded
        self.well_known_names = False  # True: contactFolders/contacts names the default folder
        self.user_id = new_id("u")
        self.root = Folder(new_id("r"), "Contacts", new_id("p"))
        self.folders: dict[str, Folder] = {self.root.id: self.root}
        self.contacts: dict[str, StoredContact] = {}
        self.tombstones: dict[str, Tombstone] = {}
        self.seq = 0
        self._keys = itertools.count(1)
        self.delta_epoch = 0  # bumped to expire every delta token (410 on old ones)

    # --- folders ---

    def folder(self, folder_id: str) -> Folder:
        if folder_id.casefold() == "contacts" and self.well_known_names:
            return self.root
        if not well_formed(folder_id):
            raise malformed()
        found = self.folders.get(folder_id)
        if found is None:
            raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found.")
        return found

    def children(self, parent_id: str) -> list[Folder]:
        return [f for f in self.folders.values() if f.parent_id == parent_id]

    def create_folder(self, parent_id: str, name: str) -> Folder:
        if not name:
            raise GraphFault(400, "ErrorInvalidRequest", "displayName is required.")
        if any(f.display_name.casefold() == name.casefold() for f in self.children(parent_id)):
            raise GraphFault(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        made = Folder(new_id("f"), name, parent_id)
        self.folders[made.id] = made
        return made

    # --- contacts ---

    def _stamp(self, stored: StoredContact) -> None:
        self.seq += 1
        stored.seq = self.seq
        change_key = base64.b64encode(secrets.token_bytes(12)).decode()
        stored.data["changeKey"] = change_key
        stored.data["@odata.etag"] = f'W/"{change_key}"'
        stored.data["lastModifiedDateTime"] = _now()

    def contact(self, item_id: str) -> StoredContact:
        if not well_formed(item_id):
            raise malformed()
        found = self.contacts.get(item_id)
        if found is None:
            raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found.")
        return found

    def create_contact(self, folder_id: str, body: dict[str, Any]) -> StoredContact:
        folder = self.folder(folder_id)
        data: dict[str, Any] = {p: None for p in (*STRING_PROPS, *EMAIL_PROPS)}
        data.update({p: [] for p in LIST_PROPS})
        data.update({p: {} for p in ADDRESS_PROPS})
        item_id = new_id("c")
        data.update(id=item_id, parentFolderId=folder.id, createdDateTime=_now())
        stored = StoredContact(data, folder.id, next(self._keys), 0)
        apply_changes(stored, {k: v for k, v in (body or {}).items() if k != "parentFolderId"})
        self.contacts[item_id] = stored
        self._stamp(stored)
        return stored

    def update_contact(
        self,
        item_id: str,
        body: dict[str, Any],
        *,
        if_match: str = "",
        immutable: bool = True,
    ) -> StoredContact:
        stored = self.contact(item_id)
        if if_match and if_match not in (stored.data["@odata.etag"], stored.data["changeKey"]):
            raise GraphFault(
                412, "ErrorIrresolvableConflict", "The change key passed in the request does "
                "not match the current change key for the item.",
            )  # fmt: skip
        target = (body or {}).get("parentFolderId") if isinstance(body, dict) else None
        moved_to = self.folder(str(target)) if target else None
        apply_changes(stored, {k: v for k, v in (body or {}).items() if k != "parentFolderId"})
        if moved_to is not None and moved_to.id != stored.folder_id:
            stored = self.move_contact(stored.data["id"], moved_to.id, immutable=immutable)
        self._stamp(stored)
        return stored

    def move_contact(self, item_id: str, folder_id: str, *, immutable: bool) -> StoredContact:
        """Move to another folder (a person in Outlook, or PATCH parentFolderId): the old folder's
        delta reports it removed; a default (not immutable) id changes with the folder."""
        stored = self.contact(item_id)
        folder = self.folder(folder_id)
        self.seq += 1
        self.tombstones[item_id] = Tombstone(item_id, stored.folder_id, stored.key, self.seq)
        stored.folder_id = folder.id
        stored.data["parentFolderId"] = folder.id
        if not immutable:
            del self.contacts[item_id]
            stored.data["id"] = new_id("c")
            self.contacts[stored.data["id"]] = stored
        self._stamp(stored)
        return stored

    def delete_contact(self, item_id: str) -> None:
        stored = self.contact(item_id)
        del self.contacts[item_id]
        self.seq += 1
        self.tombstones[item_id] = Tombstone(item_id, stored.folder_id, stored.key, self.seq)


def _birthday(value: Any) -> Any:
    if not value:
        return None
    return f"{str(value)[:10]}T11:59:00Z"


def apply_changes(stored: StoredContact, body: dict[str, Any]) -> None:
    """PATCH semantics: only sent properties change; lists and addresses are replaced whole."""
    if not isinstance(body, dict):
        raise GraphFault(400, "RequestBodyRead", "The request body is not a JSON object.")
    data = stored.data
    names_sent = False
    for key, value in body.items():
        if key == "singleValueExtendedProperties":
            for prop in value or []:
                prop_id = str(prop.get("id", ""))
                if not prop_id:
                    raise GraphFault(400, "ErrorInvalidProperty", "Extended property id missing.")
                _check_ext_value(prop_id, prop.get("value"))
                # The service echoes extended-property ids lower-cased.
                kind, _, tag = prop_id.partition(" ")
                stored.ext[prop_id.casefold()] = {
                    "id": f"{kind} {tag.lower()}",
                    "value": prop.get("value"),
                }
            continue
        if key.startswith("@odata"):
            continue
        if key not in WRITABLE:
            raise GraphFault(
                400,
                "RequestBodyRead",
                f"The property '{key}' does not exist on type 'microsoft.graph.contact'.",
            )
        if key in ADDRESS_PROPS:
            value = {m: v for m, v in (value or {}).items() if m in ADDRESS_MEMBERS and v}
        elif key in LIST_PROPS:
            value = list(value or [])
            if len(value) > LIST_CAPACITY.get(key, len(value)):
                raise GraphFault(
                    400,
                    "ErrorInvalidArgument",
                    f"The property '{key}' holds at most {LIST_CAPACITY[key]} values.",
                )
        elif key == "birthday":
            value = _birthday(value)
        data[key] = value
        if key == "displayName":
            names_sent = True
    if not names_sent and any(k in body for k in ("givenName", "middleName", "surname")):
        # Outlook regenerates the display name from the name fields unless it is sent too.
        parts = [data.get(k) for k in ("givenName", "middleName", "surname")]
        data["displayName"] = " ".join(p for p in parts if p) or None


def _check_ext_value(prop_id: str, value: Any) -> None:
    """No page documents writing `null` (or a value of the wrong type): refused, as strictly as
    the service may."""
    if value is None:
        raise GraphFault(
            400, "ErrorInvalidProperty", f"A value is required for extended property '{prop_id}'."
        )
    if prop_id.split(" ", 1)[0].casefold() == "systemtime":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise GraphFault(
                400, "ErrorInvalidProperty", f"'{value}' is not a SystemTime value."
            ) from exc


class ServerState:
    """Everything the test server knows, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.tokens: dict[str, dict[str, Any]] = {}  # bearer token → principal
        self.token_lifetime = 3600.0  # seconds an access token is valid

    def expire_tokens(self) -> None:
        """End every access token now, before its stated lifetime (as the service may, e.g. when
        a session is revoked): the next request with one answers 401."""
        with self.lock:
            for principal in self.tokens.values():
                principal["expires"] = 0.0

    def add_user(self, upn: str) -> Mailbox:
        with self.lock:
            key = upn.casefold()
            if key not in self.mailboxes:
                self.mailboxes[key] = Mailbox(upn)
            return self.mailboxes[key]

    def mailbox(self, id_or_upn: str) -> Mailbox:
        key = id_or_upn.casefold()
        if key in self.mailboxes:
            return self.mailboxes[key]
        for box in self.mailboxes.values():
            if box.user_id.casefold() == key:
                return box
        raise GraphFault(404, "ErrorInvalidUser", f"The requested user '{id_or_upn}' is invalid.")

    def issue_token(self, principal: dict[str, Any]) -> str:
        token = "tok-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = {**principal, "expires": time.time() + self.token_lifetime}
        return token

    def user_token(self, upn: str) -> str:
        """A delegated token for `upn` (tests that skip the sign-in)."""
        self.add_user(upn)
        return self.issue_token({"kind": "user", "upn": upn})
