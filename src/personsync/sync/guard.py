"""The mass-change guard: a run that would change much of a non-empty side stops and asks."""

from __future__ import annotations

from collections.abc import Mapping

from personsync.errors import MassChangeRefused
from personsync.sync.options import DEFAULT_SHARE
from personsync.sync.plan import Plan

__all__ = ["DEFAULT_SHARE", "check", "check_share"]


# What a run changes on each side: contacts in the folder (deleted in the folder and kept or
# moved out count too, so a folder emptied by half stops an export), and Persons.
CONTACT_CHANGES = (
    "create-contact",
    "update-contact",
    "tag-contact",
    "delete-contact",
    "keep-deleted",
    "moved",
)
PERSON_CHANGES = ("create-person", "update-person", "delete-person")


def _sides(plan: Plan, already: Mapping[str, int]) -> list[tuple[int, int, str]]:
    """Each side a run writes to: (changes not counted before, its size, what it is). An export
    writes Persons only when it deletes them (propagate); an import, contacts only to link."""

    def less(*kinds: str) -> int:
        # A tombstone an earlier run made (its Person changed since) is no change of this run.
        n = sum(1 for a in plan.of(*kinds) if not getattr(a, "again", False))
        return max(0, n - sum(already.get(k, 0) for k in kinds))

    contacts = (less(*CONTACT_CHANGES), plan.folder_size, f"contacts in {plan.folder}")
    persons = (less(*PERSON_CHANGES), plan.persons_size, "Persons")
    if plan.direction == "import":
        return [persons]
    return [contacts, persons]


def check(
    plan: Plan, max_share: float = DEFAULT_SHARE, already: Mapping[str, int] | None = None
) -> None:
    """MassChangeRefused when a side is empty while links exist (emptied or unreadable: nothing
    is propagated from it), or when the plan writes more than `max_share` of a non-empty side
    (either side, for a two-way sync). `already`: the planned counts of this folder's last run,
    when it was killed: what it was let do is not counted again."""
    _check_empty(plan)
    for n, size, what in _sides(plan, already or {}):
        check_share(n, size, what, max_share)


def _check_empty(plan: Plan) -> None:
    if not plan.links:
        return  # a first run: an empty side is no alarm
    empty = moved = ""
    if plan.folder_size == 0:
        empty = f"the contact folder {plan.folder} is empty"
        found = len(plan.of("moved"))
        if found:
            # Moved out, not deleted (the store found them in other folders): say so, as it is
            # the likelier story of an emptied folder than a mass delete.
            moved = f" ({found} of them were found in other folders: moved, not deleted)"
    elif plan.persons_seen == 0 and plan.direction != "import":
        empty = f"the view {plan.view!r} has no Persons"
    elif plan.persons_size == 0 and plan.direction != "export":
        empty = "the Persons table is empty"
    if empty:
        raise MassChangeRefused(
            f"{empty}, but {plan.links} Persons are linked to contacts there{moved}: nothing is "
            "propagated from an emptied or unreadable side",
            hint="check the folder and the view; run again with --yes if this is meant",
        )


def check_share(
    n: int, size: int, what: str, max_share: float, doing: str = "this run would create or change"
) -> None:
    """MassChangeRefused when `n` writes are more than `max_share` of a side of `size` `what`."""
    if size and n / size > max_share:
        # More writes than the side holds (creates into a small folder) is no share of it.
        amount = (
            f"{n} of the {size} {what} ({n / size:.0%}, more than {max_share:.0%})"
            if n <= size
            else f"{n} {what}, which holds only {size} now (more than {max_share:.0%} of it)"
        )
        raise MassChangeRefused(
            f"{doing} {amount}",
            hint="check the plan with --dry-run, then run again with --yes (or raise --max-change)",
        )
