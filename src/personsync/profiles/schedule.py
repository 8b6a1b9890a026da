"""When a profile runs: every N minutes, or at the times of a cron expression (UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter

from personsync.errors import ProfileError


def check(every_minutes: int | None, cron: str | None) -> None:
    """ProfileError naming the field unless exactly one schedule is given and it is valid."""
    if every_minutes is not None and cron:
        raise ProfileError(
            "give either every N minutes or a cron expression, not both", field="schedule"
        )
    if every_minutes is not None and every_minutes < 1:
        raise ProfileError("every N minutes needs N of 1 or more", field="every_minutes")
    if cron and not croniter.is_valid(cron):
        raise ProfileError(
            f"{cron!r} is not a cron expression",
            field="cron",
            hint="five fields: minute hour day-of-month month day-of-week, e.g. */15 * * * *",
        )


def next_after(every_minutes: int | None, cron: str | None, after: datetime) -> datetime | None:
    """The first run time after `after`; None for a profile without a schedule (run by hand)."""
    if every_minutes is not None:
        return after + timedelta(minutes=every_minutes)
    if cron:
        found: datetime = croniter(cron, after).get_next(datetime)
        return found
    return None


def describe(every_minutes: int | None, cron: str | None) -> str:
    if every_minutes is not None:
        return "every minute" if every_minutes == 1 else f"every {every_minutes} minutes"
    if cron:
        return f"cron {cron}"
    return "by hand"
