"""Cards moved to another address book of the same user (`stores.base.SearchesBeyondFolder`).

A person can move a card from one address book to another (clients copy it there, then delete
the original). When a linked card is missing from its folder, the engine asks here before it
calls the card deleted, so that `--on-contact-deleted propagate` never deletes the Person of a
card that was only moved.

The user's other address books are found as `folders list` finds them (RFC 6764, RFC 6352 §7);
each gets one `addressbook-query` REPORT (RFC 6352 §8.6) per chunk of Customer IDs: a
`prop-filter` with an `equals` text-match per ID (and per spelling of the Customer ID property),
under `test="anyof"`. A hit is checked again on the parsed card (the servers compare without
regard to case). What cannot be asked (a server that refuses the query, more IDs than the
bound) is returned as not searched: the engine keeps those links and asks again next run,
never taking them for deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin
from xml.sax.saxutils import escape

from personsync.errors import StoreError
from personsync.fields import CUSTOMER_ID_VCARD
from personsync.formats.vcard import read_text
from personsync.formats.vcard_map import CUSTOMER_ID_ALIASES
from personsync.model import Contact
from personsync.stores import carddav_xml as dav
from personsync.stores.base import FoundElsewhere
from personsync.stores.carddav_discovery import discover
from personsync.stores.http import HttpClient

# Customer IDs one run looks for elsewhere, and per query: a handful of moves is the normal
# case; a mass disappearance is the mass-change guard's business, not a search's.
ELSEWHERE_LOOKUPS = 200
PER_QUERY = 50
_XML = {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"}


def query(customer_ids: Sequence[str]) -> bytes:
    """An `addressbook-query` for the cards carrying any of `customer_ids`."""
    filters = "".join(
        f'<C:prop-filter name="{name}"><C:text-match match-type="equals">{escape(cid)}'
        "</C:text-match></C:prop-filter>"
        for cid in customer_ids
        for name in (CUSTOMER_ID_VCARD, *CUSTOMER_ID_ALIASES)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<C:addressbook-query xmlns:D="DAV:" '
        f'xmlns:C="{dav.CARD}"><D:prop><D:getetag/><C:address-data/></D:prop>'
        f'<C:filter test="anyof">{filters}</C:filter></C:addressbook-query>'
    ).encode()


class MovedCards:
    """The search of one store, bounded per run (a store is opened for one run)."""

    def __init__(self, client: HttpClient, collection: str) -> None:
        self.client = client
        self.collection = collection
        self.asked = 0
        self._books: list[str] | None = None

    def _other_books(self) -> list[str]:
        if self._books is None:
            own = dav.href_key(self.collection)
            # From the book's parent, usually the home set: the book itself would answer as
            # the one address book there is.
            found = discover(self.client, urljoin(self.collection, ".."))
            self._books = [b.url for b in found if dav.href_key(b.url) != own]
        return self._books

    def find(self, customer_ids: Sequence[str]) -> tuple[dict[str, list[FoundElsewhere]], set[str]]:
        wanted = [c for c in dict.fromkeys(customer_ids) if c]
        room = max(0, ELSEWHERE_LOOKUPS - self.asked)
        asked, rest = wanted[:room], set(wanted[room:])
        self.asked += len(asked)
        if not asked:
            return {}, rest
        try:
            books = self._other_books()
        except StoreError:
            return {}, rest | set(asked)  # no discovery here: nothing can be told
        found: dict[str, list[FoundElsewhere]] = {}
        for book in books:
            for start in range(0, len(asked), PER_QUERY):
                part = asked[start : start + PER_QUERY]
                hits = self._query(book, part)
                if hits is None:
                    return {}, rest | set(asked)  # a refused query: not searched, kept
                for cid, href in hits:
                    found.setdefault(cid, []).append(FoundElsewhere(href, f"carddav:{book}"))
        return found, rest

    def _query(self, book: str, customer_ids: Sequence[str]) -> list[tuple[str, str]] | None:
        """(Customer ID, href) of each card found in `book`; None when the server refuses."""
        what = f"carddav:{book}: finding moved contacts"
        reply = self.client.send(
            "REPORT", book, content=query(customer_ids), headers=_XML, what=what
        )
        if reply.status != 207:
            return None
        wanted = set(customer_ids)
        hits: list[tuple[str, str]] = []
        try:
            responses = dav.parse_multistatus(reply.content).responses
        except ValueError:
            return None
        for item in responses:
            data = item.text(dav.CARD, "address-data")
            for got in read_text(data, source=urljoin(book, item.href)) if data else ():
                if isinstance(got, Contact) and got.customer_id in wanted:
                    hits.append((got.customer_id, item.href))
        return hits
