"""The test server's limits and injectable faults.

Throttling is per mailbox, like Outlook's: a sliding window of requests (each request inside a
`$batch` counts) and a cap on requests in flight (a batch occupies up to 4). Faults are either
scripted (the next request matching a pattern gets a named fault) or random at given rates from a
seeded generator, so a failing test replays exactly.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# Outer request faults: answers without doing anything, a delay, a dropped connection before or
# after the work, or 410 on a delta link. Inner requests of a batch only get 429/503.
FAULTS = ("429", "503", "504", "slow", "drop_before", "drop_after", "gone")
INNER_FAULTS = ("429", "503")


@dataclass
class ServerConfig:
    page_size: int = 10  # default page of collections
    max_top: int = 1000
    delta_page_size: int = 10
    delta_max_page: int = 200  # Prefer: odata.maxpagesize is capped here
    batch_max: int = 20
    delta_replays: bool = False  # repeat the previous page's last item at the top of a page
    # Throttling (None: off)
    budget: int | None = None  # requests per window per mailbox
    window: float = 600.0
    max_concurrent: int | None = None
    retry_after_min: float = 0.0
    integer_retry_after: bool = True  # the real service sends whole seconds
    slow_seconds: float = 1.0
    device_code_interval: int = 1
    # Outlook's 150 MB of uploads (PATCH, POST, PUT) per 5 minutes per app and mailbox (None: off)
    upload_budget: int | None = None  # bytes per upload window
    upload_window: float = 300.0
    # Links (@odata.nextLink, @odata.deltaLink) on this host name instead of the request's
    link_host: str = ""


@dataclass
class Faults:
    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)  # fault name → probability
    script: list[tuple[str, str]] = field(default_factory=list)  # (pattern, fault name)
    injected: list[tuple[str, str]] = field(default_factory=list)  # (fault, request) log

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def add(self, pattern: str, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self.script.extend([(pattern, fault)] * times)

    def pick(self, request: str, *, inner: bool = False) -> str | None:
        """The fault this request meets, if any; `request` is 'METHOD /path?query'."""
        allowed = INNER_FAULTS if inner else FAULTS
        with self._lock:
            for i, (pattern, fault) in enumerate(self.script):
                if pattern in request and fault in allowed:
                    del self.script[i]
                    self.injected.append((fault, request))
                    return fault
            for fault, rate in self.rates.items():
                if fault in allowed and self._random.random() < rate:
                    if fault == "gone" and "deltatoken" not in request:
                        continue
                    self.injected.append((fault, request))
                    return fault
        return None


class Throttle:
    """Per-mailbox request window and concurrency, as Outlook enforces them."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}
        self._uploaded: dict[str, deque[tuple[float, int]]] = {}
        self.peak_in_flight = 0
        self.peak_window = 0  # most requests seen inside one window: how close to the limit

    def _retry_after(self, seconds: float) -> str:
        seconds = max(seconds, self.config.retry_after_min)
        if self.config.integer_retry_after:
            return str(max(1, math.ceil(seconds)))
        return f"{math.ceil(seconds * 100) / 100:.2f}"

    def admit(self, mailbox: str) -> str | None:
        """Count one request; the Retry-After value when the window is full."""
        budget = self.config.budget
        with self._lock:
            if budget is None:
                return None
            now = time.monotonic()
            sent = self._sent.setdefault(mailbox, deque())
            while sent and sent[0] <= now - self.config.window:
                sent.popleft()
            if len(sent) >= budget:
                return self._retry_after(sent[0] + self.config.window - now)
            sent.append(now)
            self.peak_window = max(self.peak_window, len(sent))
            return None

    def upload(self, mailbox: str, size: int) -> str | None:
        """Count `size` bytes uploaded; the Retry-After value when the upload window is full."""
        budget = self.config.upload_budget
        if budget is None or size == 0:
            return None
        with self._lock:
            now = time.monotonic()
            sent = self._uploaded.setdefault(mailbox, deque())
            while sent and sent[0][0] <= now - self.config.upload_window:
                sent.popleft()
            if sum(n for _, n in sent) + size > budget:
                since = sent[0][0] if sent else now
                return self._retry_after(since + self.config.upload_window - now)
            sent.append((now, size))
            return None

    def enter(self, mailbox: str, slots: int) -> str | None:
        """Occupy concurrency slots; the Retry-After value when too many are in flight."""
        with self._lock:
            busy = self._in_flight.get(mailbox, 0)
            cap = self.config.max_concurrent
            if cap is not None and busy + min(slots, cap) > cap:
                return self._retry_after(0.05)
            self._in_flight[mailbox] = busy + min(slots, cap or slots)
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight[mailbox])
            return None

    def leave(self, mailbox: str, slots: int) -> None:
        with self._lock:
            cap = self.config.max_concurrent
            self._in_flight[mailbox] -= min(slots, cap or slots)
