"""Signing in to Microsoft Graph with msal.

People sign in with the device-code flow (`PublicClientApplication`); servers use client
credentials (`ConfidentialClientApplication`, the secret from `PERSONSYNC_GRAPH_CLIENT_SECRET`).
msal's token cache is kept in the user's config directory, readable by its owner only. msal talks
HTTP through `HttpxForMsal`, so the same code signs in against the project's test server.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msal

from personsync.errors import AuthError, ConfigError
from personsync.graph.config import SCOPE_APP, SCOPES_DELEGATED, GraphConfig

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# AADSTS code → the one-sentence fix.
HINTS: dict[str, str] = {
    "65001": "the app lacks consent for Contacts.ReadWrite: an administrator grants it in the "
    "Entra admin center (App registrations › API permissions › Grant admin consent)",
    "7000218": "the app registration does not allow public client flows: turn on 'Allow public "
    "client flows' (App registrations › Authentication), or sign in with a client secret",
    "90002": "the tenant does not exist: set PERSONSYNC_GRAPH_TENANT to your domain (e.g. "
    "contoso.onmicrosoft.com), 'organizations' or 'consumers'",
    "50020": "this account does not belong to the configured tenant: sign in with an account "
    "of that tenant, or set the tenant to 'common'",
    "700016": "no app with this client id in the tenant: check PERSONSYNC_GRAPH_CLIENT_ID and "
    "the tenant",
    "7000215": "the client secret is wrong or expired: set PERSONSYNC_GRAPH_CLIENT_SECRET to a "
    "current secret of the app registration",
    "70008": "the sign-in has expired: run `personsync graph login` again",
    "50173": "the sign-in was revoked (a password change, or an administrator ended the "
    "sessions): run `personsync graph login` again",
    "70020": "the code was not entered in time: run `personsync graph login` again",
}


def auth_error(error: str, description: str) -> AuthError:
    """An msal error answer as one sentence with its fix."""
    code = re.search(r"AADSTS(\d+)", description or "")
    first = (description or error).split("\r\n")[0].split("\n")[0]
    hint = HINTS.get(code.group(1) if code else "", "")
    return AuthError(f"signing in to Microsoft failed: {first}", hint=hint)


class HttpxForMsal:
    """msal's `http_client` (a requests-like get/post) over httpx.

    For the test server only, an `http://` loopback authority is handed to msal as `https://`
    (msal insists on https) and turned back into http here.
    """

    def __init__(self, client: httpx.Client, insecure_hosts: set[str] | None = None) -> None:
        self.client = client
        self.insecure_hosts = insecure_hosts or set()

    def _url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.netloc in self.insecure_hosts:
            return "http" + url[5:]
        return url

    def get(
        self, url: str, params: Any = None, headers: Any = None, **kwargs: Any
    ) -> httpx.Response:
        return self.client.get(self._url(url), params=params, headers=headers)

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if isinstance(data, str | bytes):
            return self.client.post(self._url(url), params=params, content=data, headers=headers)
        return self.client.post(self._url(url), params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (never a moment world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class GraphAuth:
    """Tokens for one configuration; `token()` is what the Graph client calls per request."""

    def __init__(self, config: GraphConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=30.0)
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()
        self._app: Any = None
        self._current: tuple[str, float] | None = None  # token, expiry (monotonic)
        path = config.cache_path
        if path.exists():
            try:
                self.cache.deserialize(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"{path}: the sign-in cache cannot be read: {exc}",
                    hint="delete it and run `personsync graph login`",
                ) from exc

    # --- msal application ---------------------------------------------------------------

    def _msal_app(self) -> Any:
        if self._app is not None:
            return self._app
        authority = self.config.authority_url
        parts = urlsplit(authority)
        insecure: set[str] = set()
        if parts.scheme == "http":
            if parts.hostname not in LOOPBACK:
                raise ConfigError(
                    f"the sign-in authority {authority} is not https",
                    hint="only a local test server may use http",
                )
            insecure.add(parts.netloc)
            authority = "https" + authority[4:]
        kwargs: dict[str, Any] = {
            "authority": authority,
            "token_cache": self.cache,
            "http_client": HttpxForMsal(self._http, insecure),
        }
        if insecure:
            kwargs["instance_discovery"] = False
        client_id = self.config.require_client_id()
        try:
            if self.config.app_only:
                self._app = msal.ConfidentialClientApplication(
                    client_id, client_credential=self.config.client_secret, **kwargs
                )
            else:
                self._app = msal.PublicClientApplication(client_id, **kwargs)
        except ValueError as exc:
            # msal's tenant discovery failed: the server's answer is in the message.
            text = str(exc)
            code = re.search(r"AADSTS(\d+)", text)
            raise AuthError(
                f"signing in to Microsoft failed: the authority {self.config.authority_url} "
                "was not accepted",
                hint=HINTS.get(code.group(1) if code else "90002", HINTS["90002"]),
                detail=text,
            ) from exc
        except httpx.HTTPError as exc:
            raise _unreachable(self.config.authority_url, exc) from exc
        return self._app

    def _save(self) -> None:
        if self.cache.has_state_changed:
            write_private(self.config.cache_path, self.cache.serialize())
            self.cache.has_state_changed = False

    def _checked(self, result: dict[str, Any] | None) -> dict[str, Any]:
        if not result:
            raise AuthError(
                "not signed in to Microsoft Graph", hint="run `personsync graph login` first"
            )
        if "access_token" not in result:
            raise auth_error(str(result.get("error", "")), str(result.get("error_description")))
        self._save()
        lifetime = float(result.get("expires_in", 300))
        # Renewed a little before it ends (two minutes, or a tenth of a short lifetime).
        expires = time.monotonic() + lifetime - min(120.0, lifetime / 10)
        self._current = (str(result["access_token"]), expires)
        return result

    # --- what people do -----------------------------------------------------------------

    def login(self, show: Callable[[str], None]) -> str:
        """Sign in; `show` prints the device-code instructions. Returns who is signed in."""
        app = self._msal_app()
        try:
            if self.config.app_only:
                self._checked(app.acquire_token_for_client(scopes=[SCOPE_APP]))
                return f"app {self.config.client_id} (mailbox {self.config.mailbox or '?'})"
            flow = app.initiate_device_flow(scopes=list(SCOPES_DELEGATED))
            if "user_code" not in flow:
                raise auth_error(str(flow.get("error", "")), str(flow.get("error_description")))
            show(str(flow["message"]))
            result = self._checked(app.acquire_token_by_device_flow(flow))
        except httpx.HTTPError as exc:
            raise _unreachable(self.config.authority_url, exc) from exc
        claims = result.get("id_token_claims") or {}
        return str(claims.get("preferred_username") or "?")

    def whoami(self) -> str | None:
        if self.config.app_only:
            return f"app {self.config.client_id} (mailbox {self.config.mailbox or '?'})"
        accounts = self._msal_app().get_accounts()
        return str(accounts[0].get("username")) if accounts else None

    def logout(self) -> bool:
        """Forget every signed-in account; True when there was one."""
        had = self.config.cache_path.exists()
        if self._app is not None:
            for account in self._app.get_accounts():
                self._app.remove_account(account)
        with contextlib.suppress(FileNotFoundError):
            self.config.cache_path.unlink()
        self.cache = msal.SerializableTokenCache()
        self._app = None
        self._current = None
        return had

    def token(self) -> str:
        """A current access token (from memory, the cache, or a refresh); never prompts."""
        with self._lock:
            if self._current and self._current[1] > time.monotonic():
                return self._current[0]
            app = self._msal_app()
            try:
                if self.config.app_only:
                    result = app.acquire_token_for_client(scopes=[SCOPE_APP])
                else:
                    accounts = app.get_accounts()
                    # ..._with_error: a refused refresh token (expired, revoked) says why.
                    result = (
                        app.acquire_token_silent_with_error(
                            list(SCOPES_DELEGATED), account=accounts[0]
                        )
                        if accounts
                        else None
                    )
            except httpx.HTTPError as exc:
                raise _unreachable(self.config.authority_url, exc) from exc
            return str(self._checked(result)["access_token"])

    def refresh(self) -> str:
        """A new access token, not the held one: Microsoft Graph refused it before its stated
        end (401). msal's cached access tokens are dropped, so the refresh token (or the client
        credentials) is used; a refused refresh token raises one AuthError saying to sign in."""
        with self._lock:
            self._current = None
            for cached in list(self.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                self.cache.remove_at(cached)
        return self.token()

    def close(self) -> None:
        self._http.close()


def _unreachable(where: str, exc: Exception) -> AuthError:
    return AuthError(
        f"cannot reach the Microsoft sign-in service at {where} ({type(exc).__name__})",
        hint="check the network connection (and PERSONSYNC_GRAPH_AUTHORITY if set)",
    )
