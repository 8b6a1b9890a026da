"""The console's safety: password, sign-in, CSRF, security headers.

- The administrator password is stored hashed (argon2) in the Persons database (`web_settings`),
  so `serve --set-password` and `serve` agree without a file of their own.
- Sessions are signed cookies (the key is made once and kept in `web_settings`, never shown).
- Every POST carries the session's CSRF token, in the form (`csrf_token`) or, for htmx, in the
  `X-CSRF-Token` header; a request without it is refused before its handler runs.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import Engine, select
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personsync.errors import ConfigError
from personsync.profiles.tables import web_settings

PASSWORD_KEY = "admin_password_argon2"  # noqa: S105  (the key of the hash's row)
SESSION_KEY = "session_signing_key"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# No inline script or style, nothing from elsewhere: htmx and its SSE extension are served here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def _get(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(select(web_settings.c.value).where(web_settings.c.key == key))
        return value.scalar_one_or_none()


def _put(engine: Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(web_settings.delete().where(web_settings.c.key == key))
        conn.execute(web_settings.insert().values(key=key, value=value))


def set_password(engine: Engine, password: str) -> None:
    if len(password) < 8:
        raise ConfigError("the password is too short", hint="use at least 8 characters")
    _put(engine, PASSWORD_KEY, PasswordHasher().hash(password))


def has_password(engine: Engine) -> bool:
    return _get(engine, PASSWORD_KEY) is not None


def check_password(engine: Engine, password: str) -> bool:
    stored = _get(engine, PASSWORD_KEY)
    if stored is None:
        return False
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def session_key(engine: Engine) -> str:
    key = _get(engine, SESSION_KEY)
    if key is None:
        key = secrets.token_urlsafe(48)
        _put(engine, SESSION_KEY, key)
    return key


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def form_of(request: Request) -> FormData:
    """The posted form (read once; Starlette keeps it on the request)."""
    return await request.form()


async def check_csrf(request: Request) -> None:
    """A global dependency: every unsafe request carries the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        given = str((await form_of(request)).get(CSRF_FIELD) or "")
    if not expected or not secrets.compare_digest(str(expected), given):
        raise HTTPException(403, "This form has expired or did not come from this console.")


def check_signin(request: Request) -> None:
    """A global dependency: when the console needs sign-in, everything but /login does."""
    if not request.app.state.web.needs_signin() or request.session.get("signed_in"):
        return
    if request.url.path == "/login":
        return
    if request.method in SAFE_METHODS:
        raise HTTPException(303, "Sign in first.", headers={"Location": "/login"})
    raise HTTPException(403, "Sign in first.")


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = message.setdefault("headers", [])
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
