"""Running profiles: one by name, or every one that is due (`personsync run-due`, `serve`).

A profile's run is an ordinary run of the engine (journaled, in `runs list`, undoable). Runs are
unattended: the mass-change guard is never answered for them, so a run it stops writes nothing and
is recorded as "guard" for a person to look at. A profile whose run fails is recorded as failed
with its error and is retried at its next time; the other profiles run all the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from personsync.errors import ExitCode, LeaseHeld, MassChangeRefused, PersonsyncError
from personsync.jobs import engine_adapter
from personsync.profiles import store
from personsync.profiles.store import Profile
from personsync.sync.events import OnEvent

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileRun:
    profile: str
    # The run's status (clean | done | failed), or guard (stopped by the mass-change guard) or
    # busy (another run held the folder): nothing written, tried again at the next time.
    status: str
    run_id: str | None
    error: str | None

    @property
    def exit_code(self) -> int:
        codes = {
            "clean": ExitCode.CLEAN,
            "done": ExitCode.SKIPPED,
            "guard": ExitCode.GUARD,
            "busy": ExitCode.LEASE,
        }
        return int(codes.get(self.status, ExitCode.FAILED))


def run_profile(
    db: PersonsSide,
    profile: Profile,
    *,
    confirmed: bool = False,
    on_event: OnEvent | None = None,
) -> ProfileRun:
    """Run one profile now and record how it went; never raises for a failed run."""
    started = store.now()
    run_id: str | None = None
    try:
        problems = store.validate(db, profile)
        if problems:
            raise problems[0]
        report = engine_adapter.run(db, profile.request, confirmed=confirmed, on_event=on_event)
        run_id, status, error = report.run_id, report.status, None
        if report.errors:
            error = "; ".join(str(e.get("error", "")) for e in report.errors[:3])
    except MassChangeRefused as exc:
        status, error = "guard", exc.message
    except LeaseHeld as exc:  # another run of the folder is on: this one waits for next time
        status, error = "busy", exc.message
    except PersonsyncError as exc:
        status, error = "failed", exc.message + (f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # a bug or a foreign error: recorded, and the others still run
        log.exception("profile %s failed", profile.name)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    store.record_run(db.engine, profile, status=status, run_id=run_id, error=error, at=started)
    return ProfileRun(profile.name, status, run_id, error)


def run_due(db: PersonsSide, *, on_event: OnEvent | None = None) -> list[ProfileRun]:
    """Run every profile that is due, one after another (so one run at a time per folder);
    `on_event` hears each run's events (the folder's waits among them)."""
    return [run_profile(db, p, on_event=on_event) for p in store.due(db.engine, store.now())]
