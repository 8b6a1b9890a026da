"""HTTP to Microsoft Graph: paging, `$batch`, JSON bodies, the sign-in token, a request budget.

The request itself (retries with backoff or `Retry-After`, timeouts, pooled connections, the
lost answer of a write as `errors.UncertainOutcome`, failures below HTTP as errors a person can
act on) is the shared HTTP layer's, `stores.http.HttpClient`, which the CardDAV store uses too.
What is Graph's stays here: one `GraphClient` per folder; the limits are per mailbox and shared
by every client of that mailbox in the process (`MailboxLimiter`, the layer's `Gate`): at most 4
requests in flight, and a sliding-window budget that stays under Outlook's 10,000 requests per
10 minutes (each request inside a `$batch` counts). `429`/`503`/`504` are retried a bounded
number of times; a `429` to the end is a `ThrottledError` with Outlook's limits in its hint.

A dropped connection or a timeout is retried when the request is idempotent. A `POST` that
timed out may have happened: `UncertainOutcome`, and the caller decides (the Graph store looks
the contact up by Customer ID before creating it again).
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from personsync.errors import StoreError, UncertainOutcome
from personsync.graph import links, service_errors
from personsync.graph.limits import (
    Limits,
    RetryPolicy,
    WaitCallback,
    limiter_for,
)
from personsync.stores import http as shared

__all__ = ["Counters", "GraphClient", "Reply", "UncertainOutcome", "error_for"]

BATCH_MAX = 20
IMMUTABLE_IDS = 'IdType="ImmutableId"'
SERVICE = "Microsoft Graph"
UNREACHABLE = "check the network connection (and PERSONSYNC_GRAPH_BASE_URL, if set) and run again"


@dataclass
class Counters(shared.Counters):
    """The layer's counters, and the `$batch`es: tests assert request bounds with these."""

    batches: int = 0  # of `requests`, the $batch ones
    inner: int = 0  # requests inside those batches
    # `throttled` counts 429 answers, outer or inner; `kinds` "GET", "$batch", "inner PATCH"...

    @property
    def graph_requests(self) -> int:
        """Requests as Graph counts them against the mailbox's limit."""
        return self.requests - self.batches + self.inner

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "batches": self.batches, "inner": self.inner}


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
        self.timeout = timeout
        limits = limits or Limits()
        self.limiter = limiter_for(self.base_url, mailbox or "/me", limits)
        self.counters = Counters()
        self.transport = shared.HttpClient(
            self.base_url,
            service=SERVICE,
            headers=lambda: {"Authorization": f"Bearer {self._token()}"},
            timeout=timeout,
            retry=retry,
            max_connections=limits.max_concurrent,
            gate=self.limiter,
            on_wait=on_wait,
            http=http,
            where=self.base_url,
            unreachable_hint=UNREACHABLE,
            # Until the service has answered once, a refused connection is a wrong address or
            # a server that is down, not a passing fault: the run fails fast.
            first_contact_retries=FIRST_CONTACT_RETRIES,
            throttle_statuses=frozenset({429}),
            counters=self.counters,
        )
        self.http = self.transport.http
        self.retry = self.transport.retry
        self.on_wait = on_wait
        self._renew_lock = threading.Lock()
        self._generation = 0  # tokens renewed so far

    @property
    def answered(self) -> bool:
        """The service has answered once (a refused connection then is a passing fault)."""
        return self.transport.answered

    @property
    def mailbox_path(self) -> str:
        """`/me` for delegated sign-in, `/users/{upn}` for app-only."""
        return f"/users/{quote(self.mailbox, safe='@.')}" if self.mailbox else "/me"

    def close(self) -> None:
        self.transport.close()

    # --- one request ----------------------------------------------------------------------

    @staticmethod
    def _prefer(extra: dict[str, str] | None) -> dict[str, str]:
        """The request's own headers, with immutable ids in its `Prefer`."""
        prefer = [IMMUTABLE_IDS]
        headers: dict[str, str] = {}
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
        """Send one request through the shared layer; answers every status the caller should
        see, with its JSON body; a 429 to the end of the retries raises `ThrottledError`."""
        idempotent = method != "POST" if idempotent is None else idempotent
        what = what or f"{method} {url.split('?')[0]}"
        raw = self.transport.send(
            method,
            url,
            json=json,
            params=params,
            headers=self._prefer(headers),
            idempotent=idempotent,
            slots=slots,
            cost=cost,
            what=what,
            kind="$batch" if url == "/$batch" else method,
        )
        try:
            body = jsonlib.loads(raw.content) if raw.content else None
        except ValueError as exc:
            if not idempotent:
                raise UncertainOutcome(
                    f"{what}: {SERVICE}'s answer was cut or garbled (HTTP {raw.status}); the "
                    "change may or may not have happened",
                    hint="run again: contacts are matched by Customer ID, so none is doubled",
                ) from exc
            raise StoreError(
                f"{what}: {SERVICE} answered with something that is not JSON (HTTP {raw.status})",
                hint="a proxy may stand between here and Microsoft; try again later",
            ) from exc
        reply = Reply(raw.status, body, dict(raw.headers))
        if reply.status == 429:  # the layer's retries ran out
            raise self.error(reply, what)
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
            self.transport.count(batches=1, inner=len(pending))
            for r in pending:
                self.transport.count(kind=f"inner {r['method']}")
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
                    self.transport.count(throttled=1)
                retryable = reply.status in (429, 503) or (
                    reply.status == 504 and request["method"] != "POST"
                )
                if retryable and attempt < self.retry.max_retries:
                    again.append(request)
                    asked = shared.retry_after(reply.headers)
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
                self.transport.count(retries=len(again))
                self.transport.wait(
                    self.retry.delay(attempt, pause),
                    "Microsoft Graph asked us to wait (throttled inside a batch)",
                )
                attempt += 1
            pending = again
        return results
