"""The links between Persons and contacts, one per (Person, contact folder).

Two halves make a link: the contact carries the Person's id in its Customer ID, and the engine
keeps a `sync_links` row (Person, folder, item id, versions, baseline). The Person's own
`contact_manager_id` mirrors the **most recently made link** (the last export or import that
linked or re-linked the Person to a contact, in whatever folder): it is what the seed data and
older tools read, while the link table is what the engine decides from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, delete, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from personsync.errors import DatabaseError
from personsync.sync.tables import sync_folder_state, sync_links

CHUNK = 2000


@dataclass(frozen=True, slots=True)
class LinkRow:
    person_id: int
    item_id: str
    item_version: str
    person_version: str


class MirrorsContactManagerId(Protocol):
    def set_contact_manager_id(self, person_id: int, item_id: str | None) -> None: ...


def normalise_folder(url: str) -> str:
    """One spelling per folder, so `vcf:./out/` and `vcf:out` share their links."""
    import os

    scheme, _, rest = url.partition(":")
    if scheme in {"vcf", "vcf-file", "csv"} and rest:
        rest = os.path.normpath(os.path.abspath(rest))
    return f"{scheme}:{rest}"


def now() -> datetime:
    return datetime.now(UTC)


class Links:
    """Reads and writes `sync_links` for one folder."""

    def __init__(self, engine: Engine, folder: str) -> None:
        self.engine = engine
        self.folder = normalise_folder(folder)

    def load(self) -> dict[int, LinkRow]:
        """person id → link, without the baselines (a no-op run needs only the versions)."""
        t = sync_links
        query = select(t.c.person_id, t.c.item_id, t.c.item_version, t.c.person_version).where(
            t.c.folder == self.folder
        )
        try:
            with self.engine.connect() as conn:
                return {
                    row[0]: LinkRow(row[0], row[1], row[2], row[3]) for row in conn.execute(query)
                }
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the links of {self.folder}") from exc

    def baselines(self, person_ids: Iterable[int]) -> dict[int, str]:
        t = sync_links
        ids = list(person_ids)
        out: dict[int, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                query = select(t.c.person_id, t.c.baseline).where(
                    t.c.folder == self.folder, t.c.person_id.in_(ids[start : start + CHUNK])
                )
                out.update({row[0]: row[1] for row in conn.execute(query)})
        return out

    def rows_to_write(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        stamp = now()
        return [{**row, "folder": self.folder, "synced_at": stamp} for row in rows]

    @staticmethod
    def save(conn: Any, folder: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert links (keys: person_id, item_id, item_version, person_version, baseline,
        synced_at) inside the caller's transaction. A link replaces any older link of the same
        Person or the same item in this folder: both are unique per folder."""
        if not rows:
            return
        t = sync_links
        persons = [r["person_id"] for r in rows]
        items = [r["item_id"] for r in rows]
        for start in range(0, len(rows), CHUNK):
            conn.execute(
                delete(t).where(
                    t.c.folder == folder,
                    t.c.person_id.in_(persons[start : start + CHUNK]),
                )
            )
            conn.execute(
                delete(t).where(t.c.folder == folder, t.c.item_id.in_(items[start : start + CHUNK]))
            )
        conn.execute(t.insert(), [{**r, "folder": folder} for r in rows])

    @staticmethod
    def forget(conn: Any, folder: str, item_ids: Sequence[str]) -> None:
        t = sync_links
        for start in range(0, len(item_ids), CHUNK):
            conn.execute(
                delete(t).where(
                    t.c.folder == folder, t.c.item_id.in_(item_ids[start : start + CHUNK])
                )
            )

    @staticmethod
    def mark_stale(conn: Any, folder: str, item_ids: Sequence[str]) -> None:
        """Make the next run re-read these pairs instead of trusting their versions."""
        t = sync_links
        for start in range(0, len(item_ids), CHUNK):
            conn.execute(
                update(t)
                .where(t.c.folder == folder, t.c.item_id.in_(item_ids[start : start + CHUNK]))
                .values(item_version="", person_version="")
            )

    def all_links_of(self, pairs: Sequence[tuple[int, str]]) -> int:
        t = sync_links
        with self.engine.connect() as conn:
            query = select(t.c.id).where(tuple_(t.c.person_id, t.c.item_id).in_(pairs))
            return len(conn.execute(query).all())


def load_state(engine: Engine, folder: str) -> str | None:
    t = sync_folder_state
    with engine.connect() as conn:
        row = conn.execute(select(t.c.state).where(t.c.folder == normalise_folder(folder))).first()
    return None if row is None else row[0]


def save_state(engine: Engine, folder: str, state: str | None) -> None:
    t = sync_folder_state
    key = normalise_folder(folder)
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.folder == key))
        conn.execute(t.insert().values(folder=key, state=state, saved_at=now()))


def mirror_contact_manager_ids(db: Any, pairs: Sequence[tuple[int, str | None]]) -> None:
    """Set the Persons' `contact_manager_id` to the item they were just linked to."""
    bulk = getattr(db, "set_contact_manager_ids", None)
    if bulk is not None:
        bulk(pairs)
        return
    for person_id, item_id in pairs:
        db.set_contact_manager_id(person_id, item_id)
