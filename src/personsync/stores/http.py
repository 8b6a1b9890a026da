"""The HTTP layer shared by the stores that talk to a server: CardDAV and Microsoft Graph.

One `HttpClient` per folder: a pooled `httpx.Client`, timeouts, retries with exponential
backoff and full jitter or the server's `Retry-After`, counters that tests and benchmarks read,
and the translation of foreign errors (httpx, ssl, HTTP statuses) into the project's error tree
with a hint a person can act on. Services differ in what they say, so the caller names the
service and may pass its own `explain` for error answers.

What is retried, and why:
- a request that never left (the connection could not be opened): always;
- an answer 423/429/503 (and 502/504 of an idempotent request): after `Retry-After` or a backoff —
  the server said it did nothing, so even a create may be sent again;
- a dropped connection or a timeout after the request was sent: only when the request is
  idempotent. Otherwise the write may have happened and `UncertainOutcome` is raised: the store
  settles it by looking (CardDAV: the card's href; Graph: the Customer ID) before sending again.

Until a server has answered once (`answered`), a refused connection is a wrong address or a
server that is down rather than a passing fault: with `first_contact_retries` set (Graph) the
run fails in seconds instead of spending every retry.

Graph (`graph/client.py`) sits on top of `send`: its `MailboxLimiter` is a `Gate` (`slots` and
`cost` pass through), the sign-in token comes from `headers`, its `Counters` add the `$batch`
figures; `$batch`, paging, JSON bodies, the token's renewal and Graph's own error hints stay
there.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx

from personsync.errors import (
    AuthError,
    ConflictError,
    FolderNotFound,
    StoreError,
    ThrottledError,
    UncertainOutcome,
)

T = TypeVar("T")
WaitCallback = Callable[[float, str], None]
"""Called with (seconds, reason) before the client sleeps because the server asked it to."""

# The server did nothing: safe to send again. 423: Xandikos answers Locked while another
# request holds its git repository.
RETRY_ALWAYS = frozenset({423, 429, 503})
RETRY_IF_IDEMPOTENT = frozenset({502, 504})  # a gateway gave up: the request may have run


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 6
    # 423 Locked: the server is busy with another request and did nothing. Xandikos commits one
    # card at a time and answers 423 to the other requests in flight meanwhile; at 10,000 cards
    # a commit takes seconds, and 6 waits left one update in ten failed (docs/benchmarks.md).
    # Our own other writes end it, so it gets a longer budget than a server that is down.
    max_locked_retries: int = 12
    backoff: float = 1.0  # the first backoff; doubles each attempt, full jitter
    max_backoff: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff * 5)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


class Gate(Protocol):
    """Admission before each request (Graph's per-mailbox budget); returns (waited, token)."""

    def acquire(self, slots: int, cost: int, on_wait: WaitCallback | None) -> tuple[float, Any]:
        raise NotImplementedError

    def release(self, slots: int, entry: Any) -> None:
        raise NotImplementedError


@dataclass
class Counters:
    """What the client sent: tests assert request bounds with these, benchmarks report them."""

    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    throttled: int = 0  # answers asking to wait (the client's `throttle_statuses`)
    waited: float = 0.0  # seconds slept for the server's limits or backoff
    kinds: Counter[str] = field(default_factory=Counter)  # "PUT", "REPORT", ...

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "waited": round(self.waited, 3),
            "kinds": dict(self.kinds),
        }


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


def retry_after(headers: Mapping[str, str] | httpx.Headers) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date), or None."""
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for(reply: Reply, what: str, service: str) -> StoreError:
    """An error answer as the error a person can act on (statuses mean the same everywhere)."""
    said = " ".join(reply.text.split())[:200] if reply.content else ""
    detail = f"HTTP {reply.status}" + (f": {said}" if said else "")
    if reply.status == 401:
        return AuthError(
            f"{what}: {service} did not accept the user name and password ({detail})",
            hint="check the user name and password (an app password where the service asks "
            "for one: iCloud, Fastmail)",
        )
    if reply.status == 403:
        return AuthError(
            f"{what}: {service} refused access ({detail})",
            hint="this account may not read or write here; check the URL and the account",
        )
    if reply.status == 404:
        return FolderNotFound(f"{what}: {service} has nothing at this address ({detail})")
    if reply.status in (409, 412):
        return ConflictError(f"{what}: changed on {service} meanwhile ({detail})")
    if reply.status in (413, 415, 422) or reply.status == 400:
        return StoreError(
            f"{what}: {service} refused it ({detail})",
            hint="the server's message above says why; the other records proceed",
        )
    if reply.status in RETRY_ALWAYS:
        return ThrottledError(
            f"{what}: {service} kept asking us to wait ({detail})",
            hint="run again later; personsync continues where it stopped",
        )
    if reply.status >= 500:
        return StoreError(
            f"{what}: {service} failed ({detail})",
            hint="the server has a problem; try again in a few minutes",
        )
    return StoreError(f"{what}: {service} refused the request ({detail})")


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def transport_error(
    exc: httpx.HTTPError, what: str, service: str, where: str = "", hint: str = ""
) -> StoreError:
    """A failure below HTTP (DNS, refused, TLS, timeout) as the error a person can act on;
    `where`: the address, when `service` does not name it."""
    name = type(exc).__name__
    at = f" at {where}" if where else ""
    if _is_tls(exc):
        return StoreError(
            f"{what}: the secure connection to {service} failed ({exc})",
            hint="the server's certificate is not trusted here: check the host name, or install "
            "the certificate of the organisation's authority",
        )
    if isinstance(exc, httpx.TimeoutException):
        return StoreError(
            f"{what}: cannot reach {service}{at}: no answer in time ({name})",
            hint=hint or "the server is slow or unreachable; try again later",
        )
    return StoreError(
        f"{what}: cannot reach {service}{at} ({name}: {exc})",
        hint=hint or "check the address and the network connection, then run again",
    )


def _never_sent(exc: httpx.HTTPError) -> bool:
    """The request did not leave this machine: sending it again cannot double anything."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class HttpClient:
    """Synchronous HTTP for one server; safe to share between threads.

    `headers` (a function, so that a sign-in token can be fresh) are added to every request;
    `gate` admits each request (Graph's per-mailbox budget); `transport` is httpx's (tests put a
    fault injector there), or `http` a whole httpx client of the caller's (not closed here).
    `where` and `unreachable_hint` name the address and the fix when it cannot be reached;
    `throttle_statuses` are the answers counted as `throttled`; `counters` may be a subclass
    with more figures (Graph's)."""

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Callable[[], dict[str, str]] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 4,
        transport: httpx.BaseTransport | None = None,
        gate: Gate | None = None,
        on_wait: WaitCallback | None = None,
        verify: bool | str = True,
        http: httpx.Client | None = None,
        where: str = "",
        unreachable_hint: str = "",
        first_contact_retries: int | None = None,
        throttle_statuses: frozenset[int] = RETRY_ALWAYS,
        counters: Counters | None = None,
    ) -> None:
        self.base_url = base_url
        self.service = service
        self.where = where
        self.unreachable_hint = unreachable_hint
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.gate = gate
        self.on_wait = on_wait
        self.counters = counters or Counters()
        self.first_contact_retries = first_contact_retries
        self.throttle_statuses = throttle_statuses
        self.answered = False  # the server has answered once (see the module's doc)
        self._headers = headers
        self._lock = threading.Lock()
        self.max_connections = max(1, max_connections)
        self._own_http = http is None
        self.http = http or httpx.Client(
            auth=auth,
            timeout=timeout,
            transport=transport,
            verify=verify,
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            ),
        )
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._own_http:
            self.http.close()

    def count(self, **changes: int | float | str) -> None:
        """Add to the counters (`kind`: one more request of that kind), thread-safely."""
        with self._lock:
            for key, value in changes.items():
                if key == "kind":
                    self.counters.kinds[str(value)] += 1
                else:
                    setattr(self.counters, key, getattr(self.counters, key) + value)

    def wait(self, seconds: float, reason: str) -> None:
        """Sleep because the server asked for it (counted, and told to `on_wait`)."""
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self.count(waited=seconds)
        time.sleep(seconds)

    def send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        slots: int = 1,
        cost: int = 1,
        what: str = "",
        kind: str = "",
    ) -> Reply:
        """Send one request with retries; answers every status the caller should see (error
        answers included: the caller knows what 404 or 412 means for it), the last one when
        the retries for a "wait" answer ran out. Raises `UncertainOutcome` when a
        non-idempotent request may have run, `StoreError` when the server cannot be reached.
        `kind`: what the counters call this request (default: its method)."""
        full = url if url.startswith(("http://", "https://")) else self.base_url + url
        idempotent = (
            method not in ("POST", "PUT", "PATCH", "DELETE") if idempotent is None else idempotent
        )
        what = what or f"{method} {url.split('?')[0]}"
        attempt = 0
        while True:
            sent_headers = {**(self._headers() if self._headers else {}), **(headers or {})}
            entry: Any = None
            if self.gate is not None:
                waited, entry = self.gate.acquire(slots, cost, self.on_wait)
                self.count(waited=waited)
            self.count(requests=1, kind=kind or method)
            try:
                resp = self.http.request(
                    method, full, content=content, json=json, params=params, headers=sent_headers
                )
            except httpx.HTTPError as exc:
                if not idempotent and not _never_sent(exc):
                    raise UncertainOutcome(
                        f"{what}: the connection to {self.service} failed before the answer "
                        f"came ({type(exc).__name__}); the change may or may not have happened",
                        hint="run again: personsync looks before it writes again, so nothing "
                        "is doubled",
                    ) from exc
                limit = self.retry.max_retries
                first = self.first_contact_retries
                if first is not None and not self.answered and isinstance(exc, httpx.ConnectError):
                    limit = min(limit, first)  # refused before any answer: see the module's doc
                if _is_tls(exc) or attempt >= limit:
                    raise transport_error(
                        exc, what, self.service, self.where, self.unreachable_hint
                    ) from exc
                self.count(retries=1)
                self.wait(self.retry.delay(attempt, None), "the connection failed; retrying")
                attempt += 1
                continue
            finally:
                if self.gate is not None:
                    self.gate.release(slots, entry)
            reply = Reply(resp.status_code, resp.content, dict(resp.headers))
            self.answered = True
            if reply.status in self.throttle_statuses:
                self.count(throttled=1)
            if reply.status in RETRY_ALWAYS or (idempotent and reply.status in RETRY_IF_IDEMPOTENT):
                locked = reply.status == 423
                if attempt >= (self.retry.max_locked_retries if locked else self.retry.max_retries):
                    return reply
                self.count(retries=1)
                self.wait(
                    self.retry.delay(attempt, retry_after(reply.headers)),
                    f"{self.service} asked us to wait (HTTP {reply.status})",
                )
                attempt += 1
                continue
            if reply.status in RETRY_IF_IDEMPOTENT:
                raise UncertainOutcome(
                    f"{what}: {self.service} gave up before answering (HTTP {reply.status}); "
                    "the change may or may not have happened",
                    hint="run again: personsync looks before it writes again",
                )
            return reply

    def error_for(self, reply: Reply, what: str) -> StoreError:
        return error_for(reply, what, self.service)

    # --- several in flight ------------------------------------------------------------------

    def begin(self, calls: Iterable[Callable[[], T]]) -> Callable[[], list[T]]:
        """Start `calls` on the client's workers (as many as its connections) and return the
        function that waits for their results, in order. The first exception a call raised is
        raised by that function, after every call finished."""
        if self.max_connections == 1:
            done = [call() for call in calls]
            return lambda: done
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_connections, thread_name_prefix="http")
        futures: list[Future[T]] = [self._pool.submit(call) for call in calls]

        def wait() -> list[T]:
            results: list[T] = []
            failure: BaseException | None = None
            for fut in futures:
                try:
                    results.append(fut.result())
                except BaseException as exc:
                    failure = failure or exc
            if failure is not None:
                raise failure
            return results

        return wait

    def run_all(self, calls: Iterable[Callable[[], T]]) -> list[T]:
        return self.begin(calls)()
