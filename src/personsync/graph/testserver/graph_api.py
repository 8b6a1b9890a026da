"""The Graph endpoints the test server answers: contact folders, contacts, delta and `$batch`.

One synchronous dispatcher (`GraphApi.handle`) serves both plain requests and the requests inside
a `$batch`, so a batched request behaves exactly like the same request sent alone.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from personsync.graph.testserver import odata
from personsync.graph.testserver.limits import Faults, ServerConfig, Throttle
from personsync.graph.testserver.state import GraphFault, Mailbox, ServerState

READ_SCOPES = frozenset({"contacts.read", "contacts.readwrite"})


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, headers)


def _segments(path: str) -> list[str]:
    out: list[str] = []
    for raw in path.strip("/").split("/"):
        seg = unquote(raw)
        if seg.endswith("')") and "('" in seg:  # OData key syntax: contactFolders('contacts')
            name, _, key = seg[:-2].partition("('")
            out += [name, key]
        elif seg in ("delta()", "microsoft.graph.delta()", "microsoft.graph.delta"):
            out.append("delta")  # the function call forms (the SDKs send `delta()`)
        elif seg:
            out.append(seg)
    return out


def _relative(url: str) -> str:
    """An inner request's URL under /v1.0. The JSON batching page documents a relative URL;
    msgraph-sdk sends its request builders' URLs with the version segment (`/v1.0/me/...`, or
    whole), which the service it is written for evidently takes."""
    parts = urlsplit(url)
    path = parts.path
    if path.startswith("/v1.0/"):
        path = path[len("/v1.0") :]
    return path + (f"?{parts.query}" if parts.query else "")


class GraphApi:
    def __init__(
        self, state: ServerState, config: ServerConfig, faults: Faults, throttle: Throttle
    ) -> None:
        self.state = state
        self.config = config
        self.faults = faults
        self.throttle = throttle
        self.base_url = ""  # set when the server knows its address: http://host:port
        self.log: list[tuple[str, str, bool, int]] = []  # (method, path, inner, status)
        # Requests sent without `Prefer: IdType="ImmutableId"` (the client must send it always).
        self.mutable_id_requests: list[str] = []
        self._log_lock = threading.Lock()
        self._shuffle = random.Random(faults.seed)

    # --- entry points -----------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: Any,
        *,
        inner: bool = False,
    ) -> Answer:
        """One request; `target` is the path under /v1.0 with its query string."""
        parts = urlsplit(target)
        path = "/" + parts.path.lstrip("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            answer = self._handle(method.upper(), path, query, headers, body, inner)
        except GraphFault as fault:
            answer = _error(fault.status, fault.code, fault.message)
        with self._log_lock:
            self.log.append((method.upper(), path, inner, answer.status))
            if "immutableid" not in headers.get("prefer", "").casefold().replace('"', ""):
                self.mutable_id_requests.append(f"{method.upper()} {path}")
        return answer

    def _principal(self, headers: dict[str, str]) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        principal = self.state.tokens.get(token)
        if principal is None:
            raise GraphFault(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty." if not token else "Access token validation failure.",
            )
        if principal.get("expires", float("inf")) <= time.time():
            raise GraphFault(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        return principal

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        inner: bool,
    ) -> Answer:
        principal = self._principal(headers)
        if path == "/$batch" and not inner:
            return self._batch(headers, body)
        segs = _segments(path)
        if segs[:1] == ["me"]:
            if principal["kind"] != "user":
                raise GraphFault(
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            box, rest = self.state.mailbox(principal["upn"]), segs[1:]
        elif segs[:1] == ["users"] and len(segs) >= 2:
            box, rest = self.state.mailbox(segs[1]), segs[2:]
            if principal["kind"] == "user" and box.upn.casefold() != principal["upn"].casefold():
                raise GraphFault(403, "ErrorAccessDenied", "Access is denied.")
        else:
            raise GraphFault(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        if not box.rest_enabled:
            raise GraphFault(
                404,
                "MailboxNotEnabledForRESTAPI",
                "REST API is not yet supported for this mailbox.",
            )
        scopes = {s.casefold() for s in principal.get("scopes", ())}
        needed = READ_SCOPES if method == "GET" else {"contacts.readwrite"}
        if not scopes & needed:
            raise GraphFault(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if box.quota_full and method in ("POST", "PATCH"):
            raise GraphFault(
                507, "ErrorQuotaExceeded", "The mailbox has exceeded its maximum size."
            )
        key = box.upn.casefold()
        if inner:
            retry = self.throttle.admit(key)
            fault = None if retry else self.faults.pick(f"{method} {path}", inner=True)
            if retry or fault == "429":
                return _error(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": retry or self.throttle._retry_after(0.05)},
                )
            if fault == "503":
                return _error(503, "ServiceUnavailable", "The service is unavailable.")
        else:
            retry = self.throttle.admit(key)
            if retry:
                return _error(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": retry},
                )
        with self.state.lock:
            return self._route(box, method, rest, query, headers, body)

    # --- routing ----------------------------------------------------------------------------

    def _route(
        self,
        box: Mailbox,
        method: str,
        rest: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> Answer:
        n = len(rest)
        if rest[:1] == ["contactFolders"]:
            if n == 1:
                return self._folders(box, method, box.root.id, query, body)
            folder = box.folder(rest[1])
            if n == 2 and method == "GET":
                return Answer(200, folder.json())
            if n == 3 and rest[2] == "childFolders":
                return self._folders(box, method, folder.id, query, body)
            if n >= 3 and rest[2] == "contacts":
                return self._contacts(box, method, folder.id, rest[3:], query, headers, body)
        elif rest == ["contacts"] and method == "GET" and "$filter" in query:
            # "The filter is applied to all instances of the resource in the signed-in user's
            # mailbox" (Get singleValueLegacyExtendedProperty).
            return self._list(box, None, query, odata.parse_select(query.get("$select", "")),
                              odata.parse_expand(query.get("$expand", "")))  # fmt: skip
        elif rest[:1] == ["contacts"]:
            return self._contacts(box, method, box.root.id, rest[1:], query, headers, body)
        raise GraphFault(400, "BadRequest", f"Unsupported request: {method} /{'/'.join(rest)}")

    def _folders(
        self, box: Mailbox, method: str, parent: str, query: dict[str, str], body: Any
    ) -> Answer:
        if method == "POST":
            name = str((body or {}).get("displayName") or "")
            return Answer(201, box.create_folder(parent, name).json())
        if method == "GET":
            return Answer(200, {"value": [f.json() for f in box.children(parent)]})
        raise GraphFault(405, "BadRequest", "Method not allowed.")

    def _contacts(
        self,
        box: Mailbox,
        method: str,
        folder_id: str,
        rest: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> Answer:
        select = odata.parse_select(query.get("$select", ""))
        expand = odata.parse_expand(query.get("$expand", ""))
        if not rest:
            if method == "POST":
                stored = box.create_contact(folder_id, body or {})
                return Answer(201, odata.shape(stored, None, None))
            if method == "GET":
                return self._list(box, folder_id, query, select, expand)
        elif rest == ["delta"] and method == "GET":
            refused = [q for q in ("$expand", "$filter", "$top", "$orderby") if q in query]
            if refused:
                # contact: delta documents $select alone among the OData query parameters.
                raise GraphFault(
                    400, "ErrorInvalidUrlQuery", f"The query parameter '{refused[0]}' is not "
                    "supported with change tracking over the 'Contacts' resource.",
                )  # fmt: skip
            return self._delta(box, folder_id, query, headers)
        elif len(rest) == 1:
            item_id = rest[0]
            if method == "GET":
                return Answer(200, odata.shape(box.contact(item_id), select, expand))
            if method == "PATCH":
                immutable = "immutableid" in headers.get("prefer", "").casefold().replace('"', "")
                stored = box.update_contact(
                    item_id, body or {}, if_match=headers.get("if-match", ""), immutable=immutable
                )
                return Answer(200, odata.shape(stored, None, None))
            if method == "DELETE":
                box.delete_contact(item_id)
                return Answer(204)
        raise GraphFault(405, "BadRequest", "Method not allowed.")

    def _list(
        self,
        box: Mailbox,
        folder_id: str | None,
        query: dict[str, str],
        select: list[str] | None,
        expand: set[str] | None,
    ) -> Answer:
        """A folder's contacts, or (folder_id None) the whole mailbox's."""
        items = sorted(
            (c for c in box.contacts.values() if folder_id in (None, c.folder_id)),
            key=lambda c: c.key,
        )
        if "$filter" in query:
            keep = odata.parse_filter(query["$filter"])
            items = [c for c in items if keep(c)]
        top = odata.parse_int(query.get("$top"), "$top") or self.config.page_size
        top = min(top, self.config.max_top)
        skip = odata.parse_int(query.get("$skip"), "$skip") or 0
        page = items[skip : skip + top]
        out: dict[str, Any] = {"value": [odata.shape(c, select, expand) for c in page]}
        if skip + top < len(items):
            nxt = {**query, "$skip": str(skip + top), "$top": str(top)}
            out["@odata.nextLink"] = self._link(box, folder_id, "", nxt)
        return Answer(200, out)

    def _link(self, box: Mailbox, folder_id: str | None, tail: str, query: dict[str, str]) -> str:
        # Absolute links, on the host name the service chooses (`link_host`), not necessarily
        # the one the request came to.
        base = self.base_url
        if self.config.link_host:
            base = f"{base.split('://', 1)[0]}://{self.config.link_host}:{base.rsplit(':', 1)[1]}"
        where = f"contactFolders/{folder_id}/contacts" if folder_id else "contacts"
        return f"{base}/v1.0/users/{box.user_id}/{where}{tail}?{urlencode(query)}"

    # --- delta ------------------------------------------------------------------------------

    def _delta(
        self, box: Mailbox, folder_id: str, query: dict[str, str], headers: dict[str, str]
    ) -> Answer:
        prefer = odata.page_size_preference(headers.get("prefer", ""))
        size = min(prefer or self.config.delta_page_size, self.config.delta_max_page)
        if "$deltatoken" in query or "$skiptoken" in query:
            token = odata.decode_token(query.get("$deltatoken") or query.get("$skiptoken", ""))
            if token.get("f") != folder_id or "since" not in token:
                raise GraphFault(400, "BadRequest", "The sync state token is malformed.")
            if token.get("e") != box.delta_epoch:
                raise GraphFault(
                    410, "SyncStateNotFound", "The sync state generation is no longer valid."
                )
            since, select = int(token["since"]), token.get("sel")
            upto = int(token["upto"]) if "$skiptoken" in query else box.seq
            after = int(token.get("after", 0)) if "$skiptoken" in query else 0
        else:
            since, upto, after = -1, box.seq, 0
            select = odata.parse_select(query.get("$select", ""))
        entries: list[tuple[int, dict[str, Any]]] = []
        for c in box.contacts.values():
            if c.folder_id == folder_id and since < c.seq <= upto:
                entries.append((c.key, odata.shape(c, select, None)))
        if since >= 0:
            for t in box.tombstones.values():
                if t.folder_id == folder_id and since < t.seq <= upto:
                    entries.append((t.key, {"id": t.id, "@removed": {"reason": "deleted"}}))
        entries.sort(key=lambda e: e[0])
        replay = [e for e in entries if e[0] <= after][-1:] if self.config.delta_replays else []
        rest = [e for e in entries if e[0] > after]
        page, more = rest[:size], len(rest) > size
        value = [e[1] for e in replay + page]
        state = {"f": folder_id, "since": since, "e": box.delta_epoch, "sel": select}
        if more:
            skip = odata.encode_token({**state, "upto": upto, "after": page[-1][0]})
            link = {"@odata.nextLink": self._link(box, folder_id, "/delta", {"$skiptoken": skip})}
        else:
            delta = odata.encode_token({**state, "since": upto})
            link = {
                "@odata.deltaLink": self._link(box, folder_id, "/delta", {"$deltatoken": delta})
            }
        return Answer(200, {"value": value, **link})

    # --- $batch -----------------------------------------------------------------------------

    def _batch(self, headers: dict[str, str], body: Any) -> Answer:
        requests = (body or {}).get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise GraphFault(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > self.config.batch_max:
            raise GraphFault(
                400,
                "BadRequest",
                f"Number of batch request steps exceeds the maximum of {self.config.batch_max}.",
            )
        ids = [str(r.get("id", "")) for r in requests]
        if "" in ids or len(set(ids)) != len(ids):
            raise GraphFault(400, "BadRequest", "Batch request ids must be unique and present.")
        results: dict[str, Answer] = {}
        for r in requests:
            rid = str(r["id"])
            depends = r.get("dependsOn") or []
            if any(results.get(str(d), Answer(424)).status >= 400 for d in depends):
                results[rid] = _error(424, "FailedDependency", "A dependency failed.")
                continue
            inner_headers = {k.lower(): str(v) for k, v in (r.get("headers") or {}).items()}
            if r.get("body") is not None and "content-type" not in inner_headers:
                results[rid] = _error(
                    400, "BadRequest", "Content-Type header is required when a body is sent."
                )
                continue
            inner_headers["authorization"] = headers.get("authorization", "")
            url = _relative(str(r.get("url", "")))
            results[rid] = self.handle(
                str(r.get("method", "GET")), url, inner_headers, r.get("body"), inner=True
            )
        order = list(results)
        self._shuffle.shuffle(order)  # responses come back in any order
        responses = []
        for rid in order:
            a = results[rid]
            one: dict[str, Any] = {"id": rid, "status": a.status, "headers": a.headers or {}}
            if a.body is not None:
                one["body"] = a.body
                one["headers"] = {"Content-Type": "application/json", **(a.headers or {})}
            responses.append(one)
        return Answer(200, {"responses": responses})
