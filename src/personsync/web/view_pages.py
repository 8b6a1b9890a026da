"""A view's Persons, page by page: the view's sorted ids are kept, and mended after a change.

Sorting a view of 100,000 Persons is a scan of the whole table and a sort (0.4-0.8 s on SQLite
on a busy machine); paging through it re-did that for every page. The ids in order are kept
instead, keyed by the view's filter and sort and the search, with the Persons' change marker
(count, largest id, sum of versions: it moves with any add, change or delete).

When the marker has moved, the order is mended rather than sorted again: the Persons written
since the order was made (`updated_at`, with a minute's slack for a transaction that took its
time stamp before another's commit) are taken out, and those that still belong to the view are
put back where the database's own ORDER BY puts them (a binary search whose every comparison
is that ORDER BY over two rows, so collation, NULLs and the tie on id are the database's). A
delete, or more than a few hundred Persons written, sorts afresh: mending is for the edits of
people at work, not for an import.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Connection, UnaryExpression, select

from personsync.model import Person
from personsync.persons.filters import compile_filter, compile_sort
from personsync.persons.schema import persons

if TYPE_CHECKING:
    from personsync.persons.repo import PersonsDB, View

Key = tuple[str, str, str]
SLACK = timedelta(minutes=1)
MEND_AT_MOST = 200  # Persons written since the order was made; more: sort afresh


@dataclass(frozen=True)
class Order:
    ids: array[int]
    marker: tuple[int, int, int]
    made: datetime  # the wall clock when the ids were read (before: mended already)


class ViewPages:
    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._orders: OrderedDict[Key, Order] = OrderedDict()
        self._lock = threading.Lock()
        self.mended = 0  # how often an order was mended rather than sorted (tests, benchmarks)

    def ids(self, db: PersonsDB, view: str, where: str) -> array[int]:
        spec = db.get_view(view)
        key = (spec.filter, spec.sort, where)
        marker = db.change_marker()
        with self._lock:
            found = self._orders.get(key)
            if found is not None:
                self._orders.move_to_end(key)
        if found is not None and found.marker == marker:
            return found.ids
        started = datetime.now(UTC)
        ids = None if found is None else self._mend(db, spec, where, found, marker)
        if ids is None:
            ids = array("q", db.ordered_ids(view, where=where))
        else:
            self.mended += 1
        with self._lock:
            self._orders[key] = Order(ids, marker, started)
            while len(self._orders) > self.keep:
                self._orders.popitem(last=False)
        return ids

    def _mend(
        self, db: PersonsDB, spec: View, where: str, old: Order, marker: tuple[int, int, int]
    ) -> array[int] | None:
        """`old` brought up to date, or None when sorting afresh is the way."""
        with db.engine.connect() as conn:
            written = list(
                conn.execute(
                    select(persons.c.id)
                    .where(persons.c.updated_at >= old.made - SLACK)
                    .limit(MEND_AT_MOST + 1)
                ).scalars()
            )
            if len(written) > MEND_AT_MOST:
                return None
            added = sum(1 for pid in written if pid > old.marker[1])
            if marker[0] != old.marker[0] + added:
                return None  # a Person deleted (or one the time stamps do not show)
            conditions = [compile_filter(spec.filter), persons.c.id.in_(written)]
            if where:
                conditions.append(compile_filter(where))
            members = list(conn.execute(select(persons.c.id).where(*conditions)).scalars())
            gone = set(written)
            ids = array("q", (pid for pid in old.ids if pid not in gone))
            order = compile_sort(spec.sort)
            for pid in members:
                ids.insert(_place(conn, order, ids, pid), pid)
        return ids

    def page(self, db: PersonsDB, ids: array[int], offset: int, size: int) -> list[Person]:
        wanted = list(ids[offset : offset + size])
        found = db.get_many(wanted)
        return [found[i] for i in wanted if i in found]


def _place(
    conn: Connection,
    order: list[UnaryExpression[object] | ColumnElement[object]],
    ids: array[int],
    pid: int,
) -> int:
    """Where `pid` goes in `ids` (sorted by `order`): a binary search whose comparisons are the
    view's ORDER BY over the two rows."""
    low, high = 0, len(ids)
    while low < high:
        middle = (low + high) // 2
        first = conn.execute(
            select(persons.c.id)
            .where(persons.c.id.in_((pid, ids[middle])))
            .order_by(*order)
            .limit(1)
        ).scalar()
        if first == pid:
            high = middle
        else:
            low = middle + 1
    return low
