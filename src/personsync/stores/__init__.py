"""Contact folders, named by URL-like strings used the same way everywhere.

`vcf:PATH` (a folder of .vcf files), `vcf-file:PATH` (many cards in one file), `csv:PATH` (an
Outlook CSV file), `graph:Contacts/Child` (Microsoft 365 / Outlook.com), `carddav:URL`, and
`memory:NAME` (tests). Each scheme registers an opener here; `open_folder` returns the store
wrapped in `GuardedStore`, which enforces its capabilities.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from personsync.errors import UnsupportedFolderError
from personsync.stores.base import ContactStore, GuardedStore

# scheme → module; imported lazily so that `vcf:` never pays for httpx or msal. Each module has
# `open_store(rest, *, create, **options) -> ContactStore` and `list_folders(rest, **options)`.
OPENERS: dict[str, str] = {
    "memory": "personsync.stores.memory",
    "vcf": "personsync.stores.vcf_folder",
    "vcf-file": "personsync.stores.vcf_file",
    "csv": "personsync.stores.csv_file",
    "graph": "personsync.stores.graph",
    "carddav": "personsync.stores.carddav",
}

DEFAULT_FOLDER = "Contacts"

# The schemes whose stores wait when their service asks them to (`on_wait` is told each wait).
WAITING = frozenset({"graph", "carddav"})


def split_url(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in OPENERS:
        known = ", ".join(f"{s}:" for s in OPENERS if s != "memory")
        raise UnsupportedFolderError(
            f"unknown contact folder {url!r}",
            hint=f"name a folder as one of {known} followed by its path, e.g. vcf:./contacts",
        )
    return scheme, rest


def _module(scheme: str) -> Any:
    return importlib.import_module(OPENERS[scheme])


def open_folder(
    url: str,
    *,
    create: bool = True,
    on_wait: Callable[[float, str], None] | None = None,
    **options: Any,
) -> GuardedStore:
    """Open the contact folder named by `url`; `create` makes a missing folder where it can.
    `on_wait(seconds, reason)` is told of each wait the folder's service asks for (the caller's
    own, per call: never a default of the process)."""
    scheme, rest = split_url(url)
    if on_wait is not None and scheme in WAITING:
        options["on_wait"] = on_wait
    store: ContactStore = _module(scheme).open_store(rest, create=create, **options)
    return GuardedStore(store)


def list_folders(url: str, **options: Any) -> list[str]:
    """The folder URLs reachable from `url` (`graph:` lists a mailbox's contact folders)."""
    return [folder for folder, _ in describe_folders(url, **options)]


def describe_folders(url: str, **options: Any) -> list[tuple[str, str]]:
    """(folder URL, display name) of each folder reachable from `url`; the name is "" where the
    store has none beyond its URL (a CardDAV address book has one)."""
    scheme, rest = split_url(url)
    module = _module(scheme)
    if hasattr(module, "describe_folders"):
        described: list[tuple[str, str]] = module.describe_folders(rest, **options)
        return described
    return [(folder, "") for folder in module.list_folders(rest, **options)]
