"""What a run tells its caller while it goes: typed events for one callback.

A shell (the CLI's progress bar, the web console's task, a job worker) passes one `on_event`
function to `engine.run`; it is called in the run's own thread, in this order:

- `Planned` once the plan is made (a dry run ends after it);
- `GuardQuestion` when the mass-change guard trips, unless the options say `yes`: the callback's
  answer is its return value, True to go ahead; anything else (None too) refuses, and the run
  stops with MassChangeRefused;
- `Progress` after each chunk of writes;
- `Waiting` whenever the contact folder's service asks the run to slow down (Graph, CardDAV);
- `Finished` with the report, when the run ended (failed runs raise instead).

Events are frozen values, so a shell may keep them or hand them to another thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personsync.sync.plan import Plan
    from personsync.sync.report import RunReport


@dataclass(frozen=True)
class Planned:
    """The plan, before anything is written; `plan.changes()` is the total `Progress` counts to."""

    plan: Plan


@dataclass(frozen=True)
class GuardQuestion:
    """The mass-change guard tripped: `message` says what share of which side would change."""

    message: str


@dataclass(frozen=True)
class Progress:
    """`step` more writes made: `done` of `total` now."""

    step: int
    done: int
    total: int


@dataclass(frozen=True)
class Waiting:
    """The folder's service asked the run to slow down: it sleeps `seconds` for `reason`."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Finished:
    """The run ended and was recorded; `report.status` says how."""

    report: RunReport
    seconds: float


RunEvent = Planned | GuardQuestion | Progress | Waiting | Finished

# The answer to a GuardQuestion is the return value; for the other events it is ignored.
OnEvent = Callable[[RunEvent], bool | None]


def ignore(event: RunEvent) -> None:
    """The listener of a caller that listens to nothing: every guard question is refused."""


def folder_waits(on_event: OnEvent | None) -> Callable[[float, str], None] | None:
    """A contact folder's `on_wait` listener (`open_folder`) that tells `on_event` each wait as
    `Waiting`: runs, undo, link and unlink alike (a throttled Graph folder otherwise waited
    without a word). None for no listener."""
    if on_event is None:
        return None
    tell = on_event

    def waited(seconds: float, reason: str) -> None:
        tell(Waiting(seconds, reason))

    return waited
