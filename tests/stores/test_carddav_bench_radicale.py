"""The benchmarks' Radicale storage (`personsync.testing.radicale_uid_index`) answers the UID
check as Radicale does: a new card whose UID another card of the book has is refused
(`409 no-uid-conflict`), including a card written into the book's folder behind the server's
back, and a UID is free again once its card is deleted. Its figures are only worth anything if
it keeps Radicale's behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from personsync.stores import open_folder
from personsync.testing.carddav_servers import Server, running

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{uid}\r\nN:{uid};;;;\r\nUID:{uid}\r\nEND:VCARD\r\n"


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with running("radicale", tmp_path / "dav", bench=True, uid_index=True) as server:
        book = server.book()
        store = open_folder(f"carddav:{book}")  # the store makes the book
        try:
            list(store.list_items())
        finally:
            store.close()
        yield server, server.plain(book)


def _put(http: httpx.Client, url: str, name: str, uid: str) -> httpx.Response:
    headers = {"If-None-Match": "*", "Content-Type": "text/vcard"}
    return http.put(f"{url}{name}.vcf", content=CARD.format(uid=uid), headers=headers)


def test_the_indexed_uid_check_refuses_what_radicale_refuses(indexed: tuple[Server, str]) -> None:
    server, url = indexed
    with httpx.Client(auth=(server.user, "x"), timeout=30) as http:
        for i in range(20):
            assert _put(http, url, f"c{i}", f"u{i}").status_code == 201
        clash = _put(http, url, "other", "u7")
        assert clash.status_code == 409 and "no-uid-conflict" in clash.text
        assert http.delete(f"{url}c7.vcf").status_code in (200, 204)
        assert _put(http, url, "other", "u7").status_code == 201
        # A card put into the folder behind the server's back takes its UID too.
        name = url.rstrip("/").rpartition("/")[2]
        folder = server.storage / "collection-root" / server.user / name
        (folder / "behind.vcf").write_text(CARD.format(uid="behind"), newline="")
        refused = _put(http, url, "again", "behind")
        assert refused.status_code == 409 and "no-uid-conflict" in refused.text
