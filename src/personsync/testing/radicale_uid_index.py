"""A Radicale storage plugin for the benchmarks only: Radicale's own `multifilesystem` storage
with its two per-`PUT` walks over every card of the address book done from directory listings.

Why: a first export of N cards into Radicale costs O(N²) on the server whatever the client does
(docs/benchmarks.md), from two walks on each `PUT` of a new card:
- the UID check (`radicale/app/put.py` → `BaseCollection.has_uid`) loads every card of the book
  (its item cache entry, or the file read and hashed);
- the sweep of expired history entries (`upload` → `_clean_history` →
  `_get_deleted_history_hrefs`) asks `os.path.isfile` of every card's history entry in Python.
No setting of Radicale turns either off; its documented `[storage] type` option takes a Python
module instead (`--storage-type personsync.testing.radicale_uid_index`), which is what this is.
Everything else (files, caches, ETags, sync tokens, history) is Radicale's. The bench runs the
floor and the export against the same server, so both get the same storage; the stock figures
are measured too.

The UID index maps each card file (href) of a book to its UID. It is brought up to date from
the book's directory listing on every check: hrefs gone are dropped, new ones loaded once
(through Radicale's item cache). A card rewritten in place keeps its UID (Radicale refuses a
`PUT` that changes it), so a known href needs no reading again. The history sweep finds the
same hrefs as Radicale's (history entries without a card file) by a set difference of two
listings. Not for production: a card changed behind Radicale's back with a new UID under the
same file name would be missed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import ClassVar

from radicale.pathutils import is_safe_filesystem_path_component
from radicale.storage import multifilesystem

_lock = threading.Lock()
_uids: dict[str, dict[str, str]] = {}  # book's directory → href → UID


class Collection(multifilesystem.Collection):
    # Sets of names from `os.listdir` and set differences: C loops. Radicale's per-name
    # checks are made on the few names that differ, not on every card of the book.
    def has_uid(self, uid: str) -> bool:
        hrefs = {name for name in os.listdir(self._filesystem_path) if name[0] != "."}
        with _lock:
            known = _uids.setdefault(self._filesystem_path, {})
            for gone in known.keys() - hrefs:
                del known[gone]
            new = [h for h in hrefs - known.keys() if is_safe_filesystem_path_component(h)]
        found = {href: item.uid for href, item in self.get_multi(sorted(new)) if item is not None}
        with _lock:
            known.update(found)
            return uid in known.values()

    def _get_deleted_history_hrefs(self) -> Iterator[str]:
        folder = self._storage._get_collection_cache_subfolder(
            self._filesystem_path, ".Radicale.cache", "history"
        )
        try:
            history = set(os.listdir(folder))
        except FileNotFoundError:
            return
        for href in sorted(history - set(os.listdir(self._filesystem_path))):
            path = os.path.join(self._filesystem_path, href)
            if is_safe_filesystem_path_component(href) and not os.path.isfile(path):
                yield href


class Storage(multifilesystem.Storage):
    _collection_class: ClassVar[type[multifilesystem.Collection]] = Collection
