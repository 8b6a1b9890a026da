"""A small HTTP proxy between the CardDAV store and a real server, for fault injection.

Rules answer a matching request in its stead (`status`: a 412, a 503 with Retry-After), let it
through and then drop the connection without an answer (`drop`: the server did the work, the
client never hears of it), or drop it unsent (`lose`: the server never hears of it either).
Everything else is forwarded as it is. The proxy is a real HTTP server on loopback, so the
engine and the CLI reach it through a plain `carddav:` URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}


@dataclass
class Rule:
    method: str
    action: str  # "status" | "drop" | "lose" | "rewrite" (the answer's body: `body` → `into`)
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    into: bytes = b""
    when: Callable[[str, dict[str, str], bytes], bool] = lambda path, headers, body: True
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, str]] = []  # (method, path, what the proxy did)
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = _any
            do_MKCOL = do_OPTIONS = do_PROPPATCH = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def _rule(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if (
                    rule.method == method
                    and rule.hits < rule.times
                    and rule.when(path, headers, body)
                ):
                    rule.hits += 1
                    return rule
        return None

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP}
        rule = self._rule(req.command, req.path, headers, body)
        if rule is not None and rule.action == "status":
            self.log.append((req.command, req.path, f"answered {rule.status}"))
            req.send_response(rule.status)
            for key, value in rule.headers.items():
                req.send_header(key, value)
            req.send_header("Content-Length", str(len(rule.body)))
            req.end_headers()
            req.wfile.write(rule.body)
            return
        if rule is not None and rule.action == "lose":
            self.log.append((req.command, req.path, "lost"))
            req.close_connection = True
            return
        reply = self._client.request(req.command, req.path, headers=headers, content=body)
        if rule is not None and rule.action == "drop":
            self.log.append((req.command, req.path, f"dropped after {reply.status_code}"))
            req.close_connection = True
            return  # the server did it; the client hears nothing
        self.log.append((req.command, req.path, str(reply.status_code)))
        content = reply.content
        if rule is not None and rule.action == "rewrite":
            content = content.replace(rule.body, rule.into)
        req.send_response(reply.status_code)
        for key, value in reply.headers.items():
            if key.lower() not in _HOP:
                req.send_header(key, value)
        req.send_header("Content-Length", str(len(content)))
        req.end_headers()
        req.wfile.write(content)

    @contextmanager
    def serving(self) -> Iterator[FaultProxy]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            self._client.close()
