"""A Radicale storage plugin for the benchmarks only: Radicale's own `multifilesystem` storage
whose UID check answers from an index kept in memory instead of reading every card.

Why: on each `PUT` of a new card Radicale asks the address book whether the card's UID is
taken (`radicale/app/put.py` → `BaseCollection.has_uid`), which loads every card of the book,
so a first export of N cards costs O(N²) card loads on the server whatever the client does
(docs/benchmarks.md). No setting of Radicale turns the walk off; its documented `[storage]
type` option takes a Python module instead (`--storage-type personsync.testing.
radicale_uid_index`), which is what this is. Everything else (files, caches, ETags, sync
tokens, history) is Radicale's. The bench runs the floor and the export against the same
server, so both get the same index; the stock figures are measured too.

The index maps each card file (href) of a book to its UID. It is brought up to date from the
book's directory listing on every check: hrefs gone are dropped, new ones loaded once (through
Radicale's item cache). A card rewritten in place keeps its UID (Radicale refuses a `PUT`
that changes it), so a known href needs no reading again. Not for production: cards changed
behind Radicale's back with a new UID under the same file name would be missed.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from radicale.storage import multifilesystem

_lock = threading.Lock()
_uids: dict[str, dict[str, str]] = {}  # book's directory → href → UID


class Collection(multifilesystem.Collection):
    def has_uid(self, uid: str) -> bool:
        hrefs = set(self._list())
        with _lock:
            known = _uids.setdefault(self._filesystem_path, {})
            for gone in known.keys() - hrefs:
                del known[gone]
            new = hrefs - known.keys()
        found = {href: item.uid for href, item in self.get_multi(sorted(new)) if item is not None}
        with _lock:
            known.update(found)
            return uid in known.values()


class Storage(multifilesystem.Storage):
    _collection_class: ClassVar[type[multifilesystem.Collection]] = Collection
