"""The mass-change guard: a run that would change much of a non-empty side stops and asks."""

from __future__ import annotations

from personsync.errors import MassChangeRefused
from personsync.sync.plan import Plan

DEFAULT_SHARE = 0.5


def share_changed(plan: Plan) -> tuple[int, int, str]:
    """(writes, size of the side written to, what that side is)."""
    if plan.direction == "export":
        n = len(plan.of("create-contact", "update-contact"))
        return n, plan.folder_size, f"contacts in {plan.folder}"
    n = len(plan.of("create-person", "update-person"))
    return n, plan.persons_size, "Persons"


def _sides(plan: Plan) -> list[tuple[int, int, str]]:
    if plan.direction != "sync":
        return [share_changed(plan)]
    contacts = len(plan.of("create-contact", "update-contact"))
    persons = len(plan.of("create-person", "update-person"))
    return [
        (contacts, plan.folder_size, f"contacts in {plan.folder}"),
        (persons, plan.persons_size, "Persons"),
    ]


def check(plan: Plan, max_share: float = DEFAULT_SHARE) -> None:
    """MassChangeRefused when the plan writes more than `max_share` of a non-empty side (either
    side, for a two-way sync)."""
    for n, size, what in _sides(plan):
        _check_side(n, size, what, max_share)


def _check_side(n: int, size: int, what: str, max_share: float) -> None:
    if size and n / size > max_share:
        raise MassChangeRefused(
            f"this run would create or change {n} of the {size} {what} "
            f"({n / size:.0%}, more than {max_share:.0%})",
            hint="check the plan with --dry-run, then run again with --yes (or raise --max-change)",
        )
