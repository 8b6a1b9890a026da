"""The sign-in endpoints of the test server, as msal calls them: OpenID configuration, instance
discovery, device code (with a hook to approve a code), and the token endpoint (device code,
refresh token, client credentials). Errors carry the real AADSTS codes.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from personsync.graph.testserver.state import ServerState

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class AppRegistration:
    client_id: str
    secret: str = ""  # set: a confidential client (client credentials)
    public_client: bool = True  # "Allow public client flows"
    consented: bool = True  # admin/user consent to Contacts.ReadWrite


@dataclass
class Pending:
    client_id: str
    scopes: list[str]
    user_code: str
    expires: float
    upn: str = ""  # set once approved


@dataclass
class Identity:
    state: ServerState
    tenants: set[str] = field(default_factory=lambda: {"organizations", "common", "test"})
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)  # device code → sign-in
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)  # refresh token → grant
    base_url: str = ""
    auto_approve: str = ""  # sign every device code in as this user at once (trying by hand)

    def revoke(self, upn: str) -> None:
        """Revoke every refresh token of `upn` (a password reset, or an administrator's
        'revoke sessions'): the next refresh answers invalid_grant AADSTS50173."""
        for grant in self.refresh.values():
            if grant["upn"].casefold() == upn.casefold():
                grant["revoked"] = True

    def register(self, app: AppRegistration) -> AppRegistration:
        self.apps[app.client_id] = app
        return app

    @property
    def public_url(self) -> str:
        return self.base_url.replace("http://", "https://", 1)

    def approve(self, user_code: str, upn: str) -> None:
        """What the person does in the browser: enter the code and sign in as `upn`."""
        for pending in self.pending.values():
            if pending.user_code == user_code:
                pending.upn = upn
                self.state.add_user(upn)
                return
        raise KeyError(f"no pending sign-in with code {user_code}")

    # --- endpoints ------------------------------------------------------------------------

    def openid_configuration(self, tenant: str) -> tuple[int, dict[str, Any]]:
        if tenant not in self.tenants:
            return 400, _aad(
                "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check the tenant name."
            )
        # Endpoints are advertised as https, as the real service does (msal insists on it); the
        # client's transport maps them back to this loopback server.
        base = f"{self.public_url}/{tenant}"
        return 200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": None,
        }

    def instance_discovery(self) -> dict[str, Any]:
        host = self.base_url.split("://", 1)[-1]
        return {
            "tenant_discovery_endpoint": (
                f"{self.base_url}/common/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }

    def device_code(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        app = self.apps.get(form.get("client_id", ""))
        if tenant not in self.tenants:
            return 400, _aad("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if app is None:
            return 400, _aad("unauthorized_client", 700016, "Application was not found.")
        if not app.public_client:
            return 400, _aad(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        device = secrets.token_urlsafe(24)
        user_code = secrets.token_hex(4).upper()
        self.pending[device] = Pending(
            app.client_id, form.get("scope", "").split(), user_code, time.time() + 900
        )
        if self.auto_approve:
            self.approve(user_code, self.auto_approve)
        return 200, {
            "device_code": device,
            "user_code": user_code,
            "verification_uri": f"{self.base_url}/devicelogin",
            "expires_in": 900,
            "interval": 1,
            "message": f"To sign in, open {self.base_url}/devicelogin and enter {user_code}.",
        }

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if tenant not in self.tenants:
            return 400, _aad("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        grant = form.get("grant_type", "")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, _aad("unauthorized_client", 700016, "Application was not found.")
        if grant == "client_credentials":
            if not app.secret or form.get("client_secret") != app.secret:
                return 401, _aad("invalid_client", 7000215, "Invalid client secret provided.")
            # Without admin consent the token is still issued, with no application roles: Graph
            # then answers 403 to every request.
            roles = ["Contacts.ReadWrite"] if app.consented else []
            token = self.state.issue_token(
                {"kind": "app", "client_id": app.client_id, "scopes": roles}
            )
            return 200, {
                "token_type": "Bearer",
                "expires_in": int(self.state.token_lifetime),
                "access_token": token,
            }
        if grant == DEVICE_GRANT:
            pending = self.pending.get(form.get("device_code", ""))
            if pending is None or pending.expires < time.time():
                return 400, _aad("expired_token", 70020, "The device code has expired.")
            if not pending.upn:
                return 400, _aad("authorization_pending", 70016, "Waiting for the user.")
            if not app.consented:
                return 400, _aad(
                    "invalid_grant",
                    65001,
                    "The user or administrator has not consented to use the application.",
                )
            del self.pending[form["device_code"]]
            return 200, self._user_tokens(app, pending.upn, tenant, pending.scopes)
        if grant == "refresh_token":
            held = self.refresh.pop(form.get("refresh_token", ""), None)
            if held is None:
                return 400, _aad("invalid_grant", 70008, "The refresh token has expired.")
            if held.get("revoked"):
                return 400, _aad(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token "
                    "is needed. The user might have changed or reset their password.",
                )
            return 200, self._user_tokens(app, held["upn"], tenant, held["scopes"])
        return 400, _aad("unsupported_grant_type", 70003, f"Grant type {grant!r} unsupported.")

    def _user_tokens(
        self, app: AppRegistration, upn: str, tenant: str, scopes: list[str]
    ) -> dict[str, Any]:
        granted = [s for s in scopes if s.lower().startswith("contacts.")]
        access = self.state.issue_token({"kind": "user", "upn": upn, "scopes": granted})
        box = self.state.add_user(upn)
        refresh = secrets.token_urlsafe(24)
        self.refresh[refresh] = {"upn": upn, "scopes": scopes}
        tid = "00000000-0000-0000-0000-00000000test"
        now = int(time.time())
        claims = {
            "aud": app.client_id,
            "iss": f"{self.base_url}/{tid}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": upn.split("@")[0].title(),
            "oid": box.user_id,
            "preferred_username": upn,
            "sub": box.user_id,
            "tid": tid,
            "ver": "2.0",
        }
        return {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": int(self.state.token_lifetime),
            "ext_expires_in": int(self.state.token_lifetime),
            "access_token": access,
            "refresh_token": refresh,
            "id_token": _jwt(claims),
            "client_info": _b64(json.dumps({"uid": box.user_id, "utid": tid})),
        }


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _jwt(claims: dict[str, Any]) -> str:
    # Unsigned: msal does not validate id tokens (the TLS channel vouches for them).
    return ".".join([_b64('{"alg":"none","typ":"JWT"}'), _b64(json.dumps(claims)), ""])


def _aad(error: str, code: int, text: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
    }
