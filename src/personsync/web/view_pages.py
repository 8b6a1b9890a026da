"""A view's Persons, page by page: the view's sorted ids are kept while no Person changes.

Sorting a view of 100,000 Persons by name is a scan and a sort (about 0.1-0.5 s on SQLite);
paging through it re-did that for every page. The ids in order are kept instead, keyed by the
view's filter and sort, the search, and the Persons' change marker (which moves with any add,
change or delete), so a page after the first reads only its 50 rows.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from typing import Any

from personsync.model import Person

Key = tuple[str, str, str, tuple[int, int, int]]


class ViewPages:
    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._ids: OrderedDict[Key, array[int]] = OrderedDict()
        self._lock = threading.Lock()

    def ids(self, db: Any, view: str, where: str) -> array[int]:
        spec = db.get_view(view)
        key = (spec.filter, spec.sort, where, db.change_marker())
        with self._lock:
            found = self._ids.get(key)
            if found is not None:
                self._ids.move_to_end(key)
                return found
        found = array("q", db.ordered_ids(view, where=where))
        with self._lock:
            self._ids[key] = found
            while len(self._ids) > self.keep:
                self._ids.popitem(last=False)
        return found

    def page(self, db: Any, ids: array[int], offset: int, size: int) -> list[Person]:
        wanted = list(ids[offset : offset + size])
        found = db.get_many(wanted)
        return [found[i] for i in wanted if i in found]
