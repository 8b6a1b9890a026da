"""Credentials for a CardDAV server: Basic auth, from the first place that has them.

User name: the folder URL (`carddav:https://alice@host/...`), else `PERSONSYNC_CARDDAV_USER`,
else the credentials file. Password: `PERSONSYNC_CARDDAV_PASSWORD`, else the system keyring
(service `personsync-carddav`, user `alice@host`) where the `keyring` package is installed, else
`~/.config/personsync/carddav.toml`, which must be readable by its owner only (mode 0600):

    ["cloud.example.org"]
    user = "alice"
    password = "app-password"

A password in the URL itself is refused: URLs are written into runs, reports and the journal.
The credentials never are: the store's `url` has no user information.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from personsync.errors import ConfigError, UsageError

KEYRING_SERVICE = "personsync-carddav"


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str = ""

    def __repr__(self) -> str:  # never print the password, even in a traceback
        return f"Credentials(user={self.user!r}, password=***)"


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "personsync" / "carddav.toml"


def split_user(url: str) -> tuple[str, str]:
    """(URL without user information, user name from it or "")."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"not a CardDAV address: {url!r}",
            hint="name it as carddav:https://host/path/to/addressbook/",
        )
    if parts.password is not None:
        raise UsageError(
            "a password in the folder URL would be written into runs and reports",
            hint="set PERSONSYNC_CARDDAV_PASSWORD, the keyring or "
            "~/.config/personsync/carddav.toml instead",
        )
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    return clean, unquote(parts.username or "")


def _from_file(path: Path, host: str) -> Mapping[str, object]:
    if not path.exists():
        return {}
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} can be read by other users of this machine",
            hint=f"run `chmod 600 {path}`",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from exc
    entry = data.get(host)
    return entry if isinstance(entry, dict) else {}


def _from_keyring(user: str, host: str) -> str:
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return ""
    try:
        found = keyring.get_password(KEYRING_SERVICE, f"{user}@{host}")
    except Exception:
        return ""
    return str(found or "")


def find_credentials(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    user: str = "",
    password: str = "",
) -> Credentials | None:
    """The credentials for `url` (no user information in it), or None to send none."""
    env = os.environ if env is None else env
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = user or unquote(parts.username or "") or env.get("PERSONSYNC_CARDDAV_USER", "")
    password = password or env.get("PERSONSYNC_CARDDAV_PASSWORD", "")
    if not password:
        entry = _from_file(config_file(), host)
        user = user or str(entry.get("user", ""))
        if not user or entry.get("user", user) == user:
            password = str(entry.get("password", ""))
    if user and not password:
        password = _from_keyring(user, host)
    if not user:
        return None
    return Credentials(user, password)
