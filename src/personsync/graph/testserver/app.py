"""The FastAPI application of the test server, and the fault middleware around it."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personsync.graph.testserver.graph_api import Answer, GraphApi
from personsync.graph.testserver.identity import Identity
from personsync.graph.testserver.limits import Faults, ServerConfig, Throttle


class InjectedDrop(Exception):
    """Raised inside the server to cut a connection mid-answer (uvicorn then closes it)."""


class FaultMiddleware:
    """Outer-request faults that need the raw connection: delays and dropped connections."""

    def __init__(self, app: ASGIApp, faults: Faults, config: ServerConfig) -> None:
        self.app = app
        self.faults = faults
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1.0/"):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode()
        fault = self.faults.pick(f"{scope['method']} {scope['path']}?{query}")
        if fault == "slow":
            await asyncio.sleep(self.config.slow_seconds)
        elif fault in ("429", "503", "504"):
            status = int(fault)
            body = {"error": {"code": "injected", "message": f"Injected HTTP {status}."}}
            await _send_json(send, status, body, {"Retry-After": "0"} if status == 429 else {})
            return
        elif fault == "gone" and "deltatoken" in query:
            body = {"error": {"code": "SyncStateNotFound", "message": "Sync state not found."}}
            await _send_json(send, 410, body, {})
            return
        elif fault == "drop_before":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-length", b"100")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise InjectedDrop("connection dropped before the work")
        if fault != "drop_after":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # the work happens; its answer is lost
        await send(held[0])
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise InjectedDrop("connection dropped after the work")


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body).encode()
    media = None if body is None else "application/json"
    return Response(content=content, status_code=status, headers=headers, media_type=media)


def create_app(
    api: GraphApi, identity: Identity, throttle: Throttle, faults: Faults, config: ServerConfig
) -> ASGIApp:
    app = FastAPI(title="personsync Graph test server", openapi_url=None, docs_url=None)

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def openid(tenant: str) -> Response:
        return _json_response(*identity.openid_configuration(tenant))

    @app.get("/common/discovery/instance")
    def instance() -> Response:
        return _json_response(200, identity.instance_discovery())

    @app.post("/{tenant}/oauth2/v2.0/devicecode")
    async def devicecode(tenant: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        return _json_response(*identity.device_code(tenant, form))

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        return _json_response(*identity.token(tenant, form))

    @app.post("/_test/approve")
    async def approve(request: Request) -> Response:
        data = await request.json()
        try:
            identity.approve(str(data["user_code"]), str(data["upn"]))
        except KeyError as exc:
            return _json_response(404, {"error": str(exc)})
        return _json_response(204, None)

    @app.api_route("/v1.0/{path:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def graph(path: str, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _json_response(
                400, {"error": {"code": "BadRequest", "message": "Invalid JSON body."}}
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        target = "/" + path + (f"?{request.url.query}" if request.url.query else "")
        slots = len(body.get("requests") or []) if path == "$batch" and body else 1
        mailbox = _mailbox_key(api, headers, path)
        if request.method in ("POST", "PATCH") and (waited := throttle.upload(mailbox, len(raw))):
            return _json_response(
                429,
                {"error": {"code": "ApplicationThrottled",
                           "message": "Application is over its upload limit (150 MB per 5 "
                           "minutes) for this mailbox."}},
                {"Retry-After": waited},
            )  # fmt: skip
        retry = throttle.enter(mailbox, max(1, slots))
        if retry is not None:
            return _json_response(
                429,
                {"error": {"code": "ApplicationThrottled", "message": "Too many concurrent."}},
                {"Retry-After": retry},
            )
        try:
            answer: Answer = await run_in_threadpool(
                api.handle, request.method, target, headers, body
            )
        finally:
            throttle.leave(mailbox, max(1, slots))
        return _json_response(answer.status, answer.body, answer.headers)

    return FaultMiddleware(app, faults, config)


def _mailbox_key(api: GraphApi, headers: dict[str, str], path: str) -> str:
    """Whose mailbox a request is for, for the concurrency limit (cheap, best effort)."""
    auth = headers.get("authorization", "")
    principal = api.state.tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
    if path.startswith("users/"):
        return path.split("/")[1].casefold()
    if principal and principal.get("kind") == "user":
        return str(principal["upn"]).casefold()
    return "?"
