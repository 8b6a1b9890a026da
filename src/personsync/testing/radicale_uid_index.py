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

The UID index maps each card file (href) of a book to its UID, with the directory's mtime at
which it was known to match the book. A `PUT` made through this storage updates the index and
that mtime, so the next check needs no listing; any other change of the directory (a delete, a
file written behind Radicale's back) makes the next check list the directory and load the new
cards once (through Radicale's item cache). A card rewritten in place keeps its UID (Radicale
refuses a `PUT` that changes it). The history sweep is skipped on a `PUT` into a book known to
match (an upload deletes no card; a delete sweeps as Radicale does, from two listings). Not for
production: expired history of deleted cards is swept later than Radicale would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from radicale.pathutils import is_safe_filesystem_path_component
from radicale.storage import multifilesystem

_lock = threading.Lock()


class _Book:
    def __init__(self) -> None:
        self.uids: dict[str, str] = {}  # href → UID
        self.mtime = -1  # the directory's mtime when `uids` matched it


_books: dict[str, _Book] = {}  # book's directory → its index


class Collection(multifilesystem.Collection):
    # Sets of names from `os.listdir` and set differences: C loops. Radicale's per-name
    # checks are made on the few names that differ, not on every card of the book.
    _sweep = True

    def _book(self) -> _Book:
        with _lock:
            return _books.setdefault(self._filesystem_path, _Book())

    def _mtime(self) -> int:
        return os.stat(self._filesystem_path).st_mtime_ns

    def has_uid(self, uid: str) -> bool:
        book, mtime = self._book(), self._mtime()
        if book.mtime != mtime:
            hrefs = {name for name in os.listdir(self._filesystem_path) if name[0] != "."}
            for gone in book.uids.keys() - hrefs:
                del book.uids[gone]
            new = [h for h in hrefs - book.uids.keys() if is_safe_filesystem_path_component(h)]
            got = self.get_multi(sorted(new))
            book.uids.update({href: item.uid for href, item in got if item is not None})
            book.mtime = mtime
        return uid in book.uids.values()

    def upload(self, href: str, item: Any) -> Any:
        book = self._book()
        current = book.mtime == self._mtime()
        self._sweep = not current
        try:
            done = super().upload(href, item)
        finally:
            self._sweep = True
        if current:
            book.uids[href] = done[0].uid
            book.mtime = self._mtime()
        return done

    def _get_deleted_history_hrefs(self) -> Iterator[str]:
        if not self._sweep:
            return
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
