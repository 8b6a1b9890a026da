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


def check(plan: Plan, max_share: float = DEFAULT_SHARE) -> None:
    """MassChangeRefused when the plan writes more than `max_share` of a non-empty side."""
    n, size, what = share_changed(plan)
    if size and n / size > max_share:
        # More writes than the side holds (creates into a small folder) is no share of it.
        amount = (
            f"{n} of the {size} {what} ({n / size:.0%}, more than {max_share:.0%})"
            if n <= size
            else f"{n} {what}, which holds only {size} now (more than {max_share:.0%} of it)"
        )
        raise MassChangeRefused(
            f"this run would create or change {amount}",
            hint="check the plan with --dry-run, then run again with --yes (or raise --max-change)",
        )
