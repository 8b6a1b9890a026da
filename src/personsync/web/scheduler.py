"""`serve` runs due profiles in the background: a thread that looks every `tick` seconds.

Profiles run one after another (so one run at a time per folder, and the web console's own runs
of a folder are refused by the folder lock while one is on). A failing profile is recorded on its
page and retried at its next time; the thread goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from personsync.profiles import runner, store
from personsync.web.tasks import log_waits

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, db: PersonsSide, *, tick: float = 20.0) -> None:
        self.db = db
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="profile scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> list[runner.ProfileRun]:
        done = []
        for profile in store.due(self.db.engine, store.now()):
            if self._stop.is_set():
                break
            hear = log_waits(f"profile {profile.name}")  # unattended: its waits go to the log
            done.append(runner.run_profile(self.db, profile, on_event=hear))
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database was away: try again next tick
                log.exception("running due profiles failed")
            self._stop.wait(self.tick)
