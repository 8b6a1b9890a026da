"""A no-op run reads a folder's link versions through the covering index (migration 0003)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from personsync.persons.repo import PersonsDB


def test_link_versions_are_read_from_the_covering_index_on_sqlite(sqlite_url: str) -> None:
    db = PersonsDB(sqlite_url)
    try:
        names = {ix["name"] for ix in inspect(db.engine).get_indexes("sync_links")}
        assert "ix_sync_links_versions" in names
        with db.engine.connect() as conn:
            plan = conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT person_id, item_id, item_version, person_version "
                    "FROM sync_links WHERE folder = :f"
                ),
                {"f": "vcf:/x"},
            ).all()
        assert any("COVERING INDEX ix_sync_links_versions" in row[-1] for row in plan)
    finally:
        db.close()
