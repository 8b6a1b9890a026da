"""Helpers of the engine's end-to-end tests: a folder's contacts, one edited as Outlook would,
and the real CLI in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import ItemRef, read_all


def contacts(url: str) -> list[Contact]:
    store = open_folder(url, create=False)
    try:
        return [c for c in read_all(store) if isinstance(c, Contact)]
    finally:
        store.close()


def by_cid(url: str) -> dict[str, Contact]:
    """The folder's contacts by Customer ID."""
    return {c.customer_id: c for c in contacts(url)}


def delete(url: str, contact: Contact) -> None:
    """Delete a contact from its folder, as a person in Outlook would."""
    store = open_folder(url, create=False)
    try:
        store.delete(ItemRef(contact.item_id, contact.version))
    finally:
        store.close()


def edit(url: str, cid: str, **values: object) -> None:
    """Change the contact carrying Customer ID `cid` in its folder, as Outlook would."""
    store = open_folder(url, create=False)
    try:
        old = by_cid(url)[cid]
        store.update(old, replace(old, record=old.record.replace(values)))  # type: ignore[arg-type]
    finally:
        store.close()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m personsync ARGS`, output wide enough not to wrap."""
    return subprocess.run(
        [sys.executable, "-m", "personsync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )
