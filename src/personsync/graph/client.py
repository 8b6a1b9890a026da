"""HTTP to Microsoft Graph: paging, `$batch`, throttling, retries, a request budget, counters.

One `GraphClient` per folder; the limits are per mailbox and shared by every client of that
mailbox in the process (`MailboxLimiter`): at most 4 requests in flight, and a sliding-window
budget that stays under Outlook's 10,000 requests per 10 minutes (each request inside a `$batch`
counts). `429`/`503`/`504` are retried after `Retry-After`, or an exponential backoff with full
jitter, a bounded number of times; then `ThrottledError`.

A dropped connection or a timeout is retried when the request is idempotent. A `POST` that
timed out may have happened: the client raises `UncertainOutcome` and the caller decides (the
Graph store looks the contact up by Customer ID before creating it again).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from personsync.errors import StoreError
from personsync.graph import links, service_errors
from personsync.graph.limits import (
    Limits,
    RetryPolicy,
    WaitCallback,
    limiter_for,
)

BATCH_MAX = 20
IMMUTABLE_IDS = 'IdType="ImmutableId"'
RETRY_STATUSES = frozenset({429, 503, 504})


class UncertainOutcome(StoreError):
    """A write whose answer was lost (timeout, dropped connection): it may have happened."""


@dataclass
class Counters:
    """What the client sent: tests assert request bounds with these."""

    requests: int = 0  # HTTP requests sent, retries included
    batches: int = 0  # of which $batch
    inner: int = 0  # requests inside those batches
    retries: int = 0
    throttled: int = 0  # 429 answers, outer or inner
    waited: float = 0.0  # seconds slept for the service's limits
    kinds: Counter[str] = field(default_factory=Counter)  # "GET", "$batch", "inner PATCH", ...

    @property
    def graph_requests(self) -> int:
        """Requests as Graph counts them against the mailbox's limit."""
        return self.requests - self.batches + self.inner

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "batches": self.batches,
            "inner": self.inner,
            "retries": self.retries,
            "throttled": self.throttled,
            "waited": round(self.waited, 3),
            "kinds": dict(self.kinds),
        }


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        return service_errors.error_code(self.body)

    @property
    def error_message(self) -> str:
        return service_errors.error_message(self.body)


def _retry_after(headers: Any) -> float | None:
    raw = None
    if headers is not None:
        raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def error_for(reply: Reply, what: str, *, mailbox: str = "") -> StoreError:
    """A Graph error answer as the error a person can act on (see `service_errors`)."""
    return service_errors.error_for(reply.status, reply.body, what, mailbox=mailbox)


# Retries of a refused connection before the service has ever answered (a second or two).
FIRST_CONTACT_RETRIES = 1


class GraphClient:
    """Synchronous Graph client for one mailbox; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        mailbox: str = "",
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        on_wait: WaitCallback | None = None,
        refresh: Callable[[], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        # Gets a new token when the service refuses one mid-run (401); None: no way to.
        self._refresh = refresh
        self.mailbox = mailbox
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = limiter_for(self.base_url, mailbox or "/me", limits or Limits())
        self.on_wait = on_wait
        self.counters = Counters()
        self._lock = threading.Lock()
        self._renew_lock = threading.Lock()
        self._generation = 0  # tokens renewed so far
        # Until the service has answered once, a refused connection is a wrong address or a
        # server that is down, not a passing fault: the run fails fast instead of waiting.
        self.answered = False

    @property
    def mailbox_path(self) -> str:
        """`/me` for delegated sign-in, `/users/{upn}` for app-only."""
        return f"/users/{quote(self.mailbox, safe='@.')}" if self.mailbox else "/me"

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # --- one request ----------------------------------------------------------------------

    def _count(self, **changes: int | float | str) -> None:
        with self._lock:
            for key, value in changes.items():
                if key == "kind":
                    self.counters.kinds[str(value)] += 1
                else:
                    setattr(self.counters, key, getattr(self.counters, key) + value)

    def _wait(self, seconds: float, reason: str) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self._count(waited=seconds)
        time.sleep(seconds)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        prefer = [IMMUTABLE_IDS]
        headers = {"Authorization": f"Bearer {self._token()}"}
        for key, value in (extra or {}).items():
            if key.lower() == "prefer":
                prefer.append(value)
            else:
                headers[key] = value
        headers["Prefer"] = ", ".join(prefer)
        return headers

    def error(self, reply: Reply, what: str) -> StoreError:
        """`error_for` with this client's mailbox named in the message and hint."""
        return error_for(reply, what, mailbox=self.mailbox)

    def send(self, method: str, url: str, **kwargs: Any) -> Reply:
        """Send one request (see `_send`); a token refused mid-run is refreshed once and the
        request sent again."""
        links.check(self.base_url, url)
        generation = self._generation
        reply = self._send(method, url, **kwargs)
        if reply.status == 401 and self._renew_token(generation):
            reply = self._send(method, url, **kwargs)
        return reply

    def _renew_token(self, generation: int) -> bool:
        """After a 401 to a request sent with token `generation`: a fresh token, unless another
        request got one meanwhile. False when there is no way to (a fixed token)."""
        if self._refresh is None:
            return False
        with self._renew_lock:
            if self._generation == generation:
                self._refresh()  # a refused refresh token raises AuthError: sign in again
                self._generation += 1
        return True

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        cost: int = 1,
        slots: int = 1,
        idempotent: bool | None = None,
        what: str = "",
    ) -> Reply:
        """Send one request with retries; answers every status the caller should see."""
        full = url if url.startswith("http") else self.base_url + url
        idempotent = method != "POST" if idempotent is None else idempotent
        what = what or f"{method} {url.split('?')[0]}"
        attempt = 0
        while True:
            waited, entry = self.limiter.acquire(slots, cost, self.on_wait)
            self._count(
                waited=waited,
                requests=1,
                kind="$batch" if url == "/$batch" else method,
            )
            try:
                resp = self.http.request(
                    method, full, params=params, json=json, headers=self._headers(headers)
                )
                body = resp.json() if resp.content else None
            except (httpx.TimeoutException, httpx.TransportError, ValueError) as exc:
                if not idempotent:
                    raise UncertainOutcome(
                        f"{what}: the connection to Microsoft Graph failed before the answer "
                        f"came ({type(exc).__name__}); the change may or may not have happened",
                        hint="run again: contacts are matched by Customer ID, so none is doubled",
                    ) from exc
                refused = isinstance(exc, httpx.ConnectError) and not self.answered
                if attempt >= (FIRST_CONTACT_RETRIES if refused else self.retry.max_retries):
                    raise StoreError(
                        f"{what}: cannot reach Microsoft Graph at {self.base_url} "
                        f"({type(exc).__name__}: {exc})",
                        hint="check the network connection (and PERSONSYNC_GRAPH_BASE_URL, if "
                        "set) and run again",
                    ) from exc
                self._count(retries=1)
                self._wait(self.retry.delay(attempt, None), "the connection failed; retrying")
                attempt += 1
                continue
            finally:
                self.limiter.release(slots, entry)
            reply = Reply(resp.status_code, body, dict(resp.headers))
            self.answered = True
            if reply.status == 429:
                self._count(throttled=1)
            if reply.status in RETRY_STATUSES and (idempotent or reply.status != 504):
                if attempt >= self.retry.max_retries:
                    if reply.status == 429:
                        raise self.error(reply, what)
                    return reply
                pause = self.retry.delay(attempt, _retry_after(resp.headers))
                self._count(retries=1)
                self._wait(pause, f"Microsoft Graph asked us to wait (HTTP {reply.status})")
                attempt += 1
                continue
            return reply

    def json(self, method: str, url: str, *, what: str = "", **kwargs: Any) -> Any:
        """Send and return the body of a successful answer; raise the translated error."""
        reply = self.send(method, url, what=what, **kwargs)
        if not reply.ok:
            raise self.error(reply, what or f"{method} {url}")
        return reply.body

    def pages(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink` (the whole URL)."""
        next_url: str | None = url
        while next_url:
            page = self.json("GET", next_url, params=params, headers=headers, what=what)
            yield page
            next_url = page.get("@odata.nextLink")
            params = None  # the next link carries the query

    # --- $batch ---------------------------------------------------------------------------

    def batch(self, requests: Sequence[dict[str, Any]], *, what: str = "batch") -> dict[str, Reply]:
        """Run requests (each {"id", "method", "url", ...}) in `$batch`es of ≤ 20.

        Inner answers 429/503 (and 504 of idempotent requests) are sent again after the
        longest `Retry-After` they asked for; the final answer of each request is returned by id.
        A lost answer of a batch holding a POST raises `UncertainOutcome` for the whole chunk.
        """
        results: dict[str, Reply] = {}
        # Immutable ids inside a batch too: each inner request carries its own headers.
        inner = [
            {**r, "headers": {**(r.get("headers") or {}), "Prefer": IMMUTABLE_IDS}}
            for r in requests
        ]
        generation = self._generation
        for start in range(0, len(inner), BATCH_MAX):
            results.update(self._batch_chunk(inner[start : start + BATCH_MAX], what))
        refused = [r for r in inner if results[r["id"]].status == 401]
        if refused and self._renew_token(generation):
            for start in range(0, len(refused), BATCH_MAX):
                results.update(self._batch_chunk(refused[start : start + BATCH_MAX], what))
        return results

    def _batch_chunk(self, pending: list[dict[str, Any]], what: str) -> dict[str, Reply]:
        results: dict[str, Reply] = {}
        attempt = 0
        while pending:
            safe = all(r["method"] != "POST" for r in pending)
            self._count(batches=1, inner=len(pending))
            for r in pending:
                self._count(kind=f"inner {r['method']}")
            outer = self.send(
                "POST",
                "/$batch",
                json={"requests": pending},
                cost=len(pending),
                slots=len(pending),
                idempotent=safe,
                what=what,
            )
            if outer.status == 504 and not safe:
                raise UncertainOutcome(
                    f"{what}: Microsoft Graph timed out (HTTP 504); the writes may have happened",
                    hint="run again: contacts are matched by Customer ID, so none is doubled",
                )
            if not outer.ok:
                raise self.error(outer, what)
            by_id = {r["id"]: r for r in pending}
            again: list[dict[str, Any]] = []
            pause: float | None = None
            for answer in outer.body.get("responses", []):
                request = by_id.get(str(answer.get("id")))
                if request is None:
                    continue
                reply = Reply(
                    int(answer["status"]), answer.get("body"), answer.get("headers") or {}
                )
                if reply.status == 429:
                    self._count(throttled=1)
                retryable = reply.status in (429, 503) or (
                    reply.status == 504 and request["method"] != "POST"
                )
                if retryable and attempt < self.retry.max_retries:
                    again.append(request)
                    asked = _retry_after(reply.headers)
                    if asked is not None:
                        pause = max(pause or 0.0, asked)
                else:
                    results[request["id"]] = reply
            for r in pending:
                if r["id"] in results or r in again:
                    continue
                if attempt < self.retry.max_retries:
                    again.append(r)  # an answer missing from the batch: ask again
                else:
                    results[r["id"]] = Reply(
                        504, {"error": {"code": "noAnswer", "message": "no answer in $batch"}}
                    )
            if again:
                self._count(retries=len(again))
                self._wait(
                    self.retry.delay(attempt, pause),
                    "Microsoft Graph asked us to wait (throttled inside a batch)",
                )
                attempt += 1
            pending = again
        return results
