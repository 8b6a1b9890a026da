"""The run policies by name, apart from the engine so the CLI can offer them without loading it
(a command's start-up stays light)."""

from __future__ import annotations

from typing import Literal, TypeVar

from personsync.errors import UsageError

Policy = Literal["crm", "outlook", "newest", "skip"]
POLICIES: tuple[Policy, ...] = ("crm", "outlook", "newest", "skip")

# A linked Person deleted from the CRM or gone from the run's view (export, sync): the contact
# stays and the link ends (keep), gets the Outlook category TAG (tag), or is deleted (delete).
PersonRemoved = Literal["keep", "tag", "delete"]
PERSON_REMOVED: tuple[PersonRemoved, ...] = ("keep", "tag", "delete")
TAG = "Removed from CRM"

# A linked contact deleted in the folder: the Person stays (keep) or is deleted (propagate).
ContactDeleted = Literal["keep", "propagate"]
CONTACT_DELETED: tuple[ContactDeleted, ...] = ("keep", "propagate")

N = TypeVar("N", bound=str)


def named(name: str | None, known: tuple[N, ...], what: str) -> N | None:
    """`name` as one of `known` (None stays None: the default); a usage error otherwise."""
    if name is None:
        return None
    for k in known:
        if k == name:
            return k
    raise UsageError(f"unknown {what} {name!r}", hint=f"use one of {', '.join(known)}")
