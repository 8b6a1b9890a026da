"""Helpers for tests that act while a run is under way (through its events)."""

from __future__ import annotations

from collections.abc import Callable

from personsync.sync.events import Planned, RunEvent
from personsync.sync.options import RunOptions
from personsync.sync.plan import Plan

YES = RunOptions(yes=True)


def planned(then: Callable[[Plan], None]) -> Callable[[RunEvent], None]:
    """An `on_event` that calls `then` once the run has planned, before it writes."""

    def hear(event: RunEvent) -> None:
        if isinstance(event, Planned):
            then(event.plan)

    return hear
