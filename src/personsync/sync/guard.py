"""The mass-change guard: a run that would change much of a non-empty side stops and asks."""

from __future__ import annotations

from collections.abc import Mapping

from personsync.errors import MassChangeRefused
from personsync.sync.options import DEFAULT_SHARE
from personsync.sync.plan import Plan

__all__ = ["DEFAULT_SHARE", "check", "check_share", "share_changed"]


def share_changed(plan: Plan) -> tuple[int, int, str]:
    """(writes, size of the side written to, what that side is)."""
    if plan.direction == "export":
        # Contacts deleted in the folder count too: a folder emptied by half stops the run.
        n = len(plan.of("create-contact", "update-contact", "keep-deleted"))
        return n, plan.folder_size, f"contacts in {plan.folder}"
    n = len(plan.of("create-person", "update-person"))
    return n, plan.persons_size, "Persons"


def _sides(plan: Plan, already: Mapping[str, int]) -> list[tuple[int, int, str]]:
    def less(n: int, *kinds: str) -> int:
        return max(0, n - sum(already.get(k, 0) for k in kinds))

    if plan.direction != "sync":
        n, size, what = share_changed(plan)
        kinds = ("create-contact", "update-contact", "create-person", "update-person")
        return [(less(n, *kinds), size, what)]
    contacts = less(
        len(plan.of("create-contact", "update-contact")), "create-contact", "update-contact"
    )
    persons = less(len(plan.of("create-person", "update-person")), "create-person", "update-person")
    return [
        (contacts, plan.folder_size, f"contacts in {plan.folder}"),
        (persons, plan.persons_size, "Persons"),
    ]


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
    empty = ""
    if plan.folder_size == 0:
        empty = f"the contact folder {plan.folder} is empty"
    elif plan.persons_seen == 0 and plan.direction != "import":
        empty = f"the view {plan.view!r} has no Persons"
    elif plan.persons_size == 0 and plan.direction != "export":
        empty = "the Persons table is empty"
    if empty:
        raise MassChangeRefused(
            f"{empty}, but {plan.links} Persons are linked to contacts there: nothing is "
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
