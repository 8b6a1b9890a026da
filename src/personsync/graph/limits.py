"""The client's side of Outlook's limits: concurrency slots and a sliding-window request budget
per mailbox, shared by every client of that mailbox in the process (the retry policy is the
shared HTTP layer's, `stores.http.RetryPolicy`, named here too)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from personsync.stores.http import RetryPolicy, WaitCallback

__all__ = ["Limits", "MailboxLimiter", "RetryPolicy", "WaitCallback", "limiter_for"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_concurrent: int = 4
    budget: int = 10_000  # requests per window; each request inside a $batch counts
    window: float = 600.0
    # Stay a little under the published limit: other apps may use the same mailbox.
    headroom: float = 0.95


class MailboxLimiter:
    """Concurrency slots and a sliding-window request budget for one mailbox."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._cond = threading.Condition()
        self._in_flight = 0
        # [time, cost] per request sent; the time is moved to when the answer came, which is
        # never earlier than when the service counted it, so our window never runs ahead of its.
        self._sent: deque[list[float]] = deque()
        self._count = 0

    @property
    def allowed(self) -> int:
        return max(1, int(self.limits.budget * self.limits.headroom))

    def acquire(
        self, slots: int, cost: int, on_wait: WaitCallback | None
    ) -> tuple[float, list[float]]:
        """Block until `slots` may be in flight and `cost` requests fit the budget; returns the
        seconds waited and the budget entry to hand back to `release`."""
        slots = min(slots, self.limits.max_concurrent)
        waited = 0.0
        with self._cond:
            while True:
                now = time.monotonic()
                while self._sent and self._sent[0][0] <= now - self.limits.window:
                    self._count -= int(self._sent.popleft()[1])
                if self._count + cost > self.allowed and self._sent:
                    pause = self._sent[0][0] + self.limits.window - now
                    if on_wait is not None:
                        on_wait(pause, "keeping under the mailbox's request limit")
                    self._cond.wait(pause)
                    waited += pause
                    continue
                if self._in_flight + slots > self.limits.max_concurrent:
                    self._cond.wait(0.5)
                    continue
                self._in_flight += slots
                entry = [now, float(cost)]
                self._sent.append(entry)
                self._count += cost
                return waited, entry

    def release(self, slots: int, entry: list[float]) -> None:
        with self._cond:
            entry[0] = time.monotonic()
            self._in_flight -= min(slots, self.limits.max_concurrent)
            self._cond.notify_all()


_LIMITERS: dict[tuple[str, str], MailboxLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(base_url: str, mailbox: str, limits: Limits) -> MailboxLimiter:
    key = (base_url, mailbox.casefold())
    with _LIMITERS_LOCK:
        found = _LIMITERS.get(key)
        if found is None or found.limits != limits:
            found = _LIMITERS[key] = MailboxLimiter(limits)
        return found
