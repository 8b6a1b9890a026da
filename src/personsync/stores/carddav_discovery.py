"""Finding a user's address books from a server's address (RFC 6764, RFC 6352 §7).

`https://host/` → `/.well-known/carddav` (followed where it redirects) → the user's principal
(`current-user-principal`) → its `addressbook-home-set` → PROPFIND Depth 1 there: every member
that is an address book. An address given that is already an address book or a home set works
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from personsync.errors import StoreError
from personsync.stores import carddav_xml as dav
from personsync.stores.http import HttpClient

_XML = {"Content-Type": "application/xml; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class AddressBook:
    url: str
    display_name: str


def _propfind(
    client: HttpClient, url: str, depth: str, *props: tuple[str, str]
) -> list[dav.Response] | None:
    """The responses, or None when the address has no such resource or is no WebDAV."""
    reply = client.send(
        "PROPFIND",
        url,
        content=dav.propfind(*props),
        headers={**_XML, "Depth": depth},
        what=f"finding address books at {url}",
    )
    if reply.status in (401, 403):
        raise client.error_for(reply, f"finding address books at {url}")
    if reply.status != 207:
        return None
    try:
        return dav.parse_multistatus(reply.content).responses
    except ValueError:
        return None


def _principal(client: HttpClient, url: str) -> str | None:
    found = _propfind(client, url, "0", (dav.DAV, "current-user-principal"))
    href = found[0].href_of(dav.DAV, "current-user-principal") if found else ""
    return urljoin(url, href) if href else None


def _well_known(client: HttpClient, url: str) -> str | None:
    """Where `/.well-known/carddav` redirects to (the context path), or None."""
    start = urljoin(url, "/.well-known/carddav")
    reply = client.send("GET", start, what=f"finding address books at {url}")
    for _ in range(5):
        if reply.status not in (301, 302, 303, 307, 308):
            break
        start = urljoin(start, reply.header("Location"))
        reply = client.send(
            "PROPFIND",
            start,
            content=dav.propfind((dav.DAV, "resourcetype")),
            headers={**_XML, "Depth": "0"},
            what=f"finding address books at {url}",
        )
    return start if reply.status in (200, 207) else None


def _books(client: HttpClient, home: str) -> list[AddressBook]:
    found = _propfind(client, home, "1", (dav.DAV, "resourcetype"), (dav.DAV, "displayname"))
    books: list[AddressBook] = []
    for item in found or []:
        if dav.q(dav.CARD, "addressbook") in item.resource_types():
            url = urljoin(home, item.href)
            books.append(AddressBook(url, item.text(dav.DAV, "displayname")))
    return books


def discover(client: HttpClient, url: str) -> list[AddressBook]:
    """The address books of the signed-in user reachable from `url`."""
    own = _books(client, url)  # the address is a home set, or an address book itself
    if own:
        return own
    principal = _principal(client, url)
    if principal is None:
        context = _well_known(client, url)
        principal = _principal(client, context) if context else None
    if principal is None:
        raise StoreError(
            f"no CardDAV service found at {url}",
            hint="give the address the provider documents for CardDAV "
            "(see the README's CardDAV section)",
        )
    found = _propfind(client, principal, "0", (dav.CARD, "addressbook-home-set"))
    home = found[0].href_of(dav.CARD, "addressbook-home-set") if found else ""
    if not home:
        raise StoreError(f"{principal}: the server names no address book home for this user")
    return _books(client, urljoin(principal, home))
