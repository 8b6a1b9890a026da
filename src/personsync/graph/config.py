"""Where the Graph store and sign-in take their settings from.

Environment variables win over the TOML file `graph.toml` in the user's config directory
(`platformdirs.user_config_dir("personsync")`, or `$PERSONSYNC_CONFIG_DIR`):

    tenant = "contoso.onmicrosoft.com"   # or "organizations", "consumers", "common"
    client_id = "00000000-0000-0000-0000-000000000000"
    mailbox = "crm@contoso.org"          # app-only sign-in: whose contacts
    # base_url = "https://graph.microsoft.com/v1.0"
    # authority = "https://login.microsoftonline.com"

The client secret (app-only sign-in) comes from `PERSONSYNC_GRAPH_CLIENT_SECRET` only, never from
a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

from personsync.errors import ConfigError

GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOGIN_URL = "https://login.microsoftonline.com"
SCOPES_DELEGATED = ("Contacts.ReadWrite",)
SCOPE_APP = "https://graph.microsoft.com/.default"

# Options under every `graph:` folder's own: empty, and nothing in personsync sets them (many runs
# share a process: a caller's `on_wait` goes with its own call to `open_folder`). Only the
# tests put fast retries here, restored after each test.
STORE_DEFAULTS: dict[str, Any] = {}

_ENV = {
    "tenant": "PERSONSYNC_GRAPH_TENANT",
    "client_id": "PERSONSYNC_GRAPH_CLIENT_ID",
    "client_secret": "PERSONSYNC_GRAPH_CLIENT_SECRET",
    "base_url": "PERSONSYNC_GRAPH_BASE_URL",
    "authority": "PERSONSYNC_GRAPH_AUTHORITY",
    "mailbox": "PERSONSYNC_GRAPH_MAILBOX",
}


def config_dir() -> Path:
    override = os.environ.get("PERSONSYNC_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("personsync"))


@dataclass(frozen=True, slots=True)
class GraphConfig:
    tenant: str = "organizations"
    client_id: str = ""
    client_secret: str = ""
    base_url: str = GRAPH_URL
    authority: str = LOGIN_URL  # the login host; the tenant is appended
    mailbox: str = ""  # empty: the signed-in person's own mailbox (/me)
    directory: Path | None = None  # where the token cache lives (default: config_dir())

    @property
    def app_only(self) -> bool:
        """Client-credentials sign-in (a server): a secret is configured."""
        return bool(self.client_secret)

    @property
    def cache_path(self) -> Path:
        return (self.directory or config_dir()) / "graph-token-cache.json"

    @property
    def authority_url(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant}"

    def with_options(self, **options: Any) -> GraphConfig:
        known = {k: v for k, v in options.items() if k in _ENV and v}
        return replace(self, **known) if known else self

    @classmethod
    def load(cls, path: Path | None = None) -> GraphConfig:
        """Settings from `graph.toml` (if any), overridden by the environment."""
        path = path or config_dir() / "graph.toml"
        values: dict[str, Any] = {}
        if path.exists():
            import tomllib  # here: every command imports this module, few read the file

            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(
                    f"{path}: cannot read the Graph settings: {exc}",
                    hint="fix or delete the file; see `personsync graph --help`",
                ) from exc
            section = data.get("graph", data)
            values = {k: str(v) for k, v in section.items() if k in _ENV and k != "client_secret"}
        for key, env in _ENV.items():
            if os.environ.get(env):
                values[key] = os.environ[env]
        return cls(**values)

    def require_client_id(self) -> str:
        if not self.client_id:
            raise ConfigError(
                "no Microsoft Entra app (client id) is configured for Microsoft Graph",
                hint="set PERSONSYNC_GRAPH_CLIENT_ID or client_id in "
                f"{config_dir() / 'graph.toml'} to your app registration's id",
            )
        return self.client_id
