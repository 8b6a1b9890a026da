"""CardDAV credentials saved from the Settings page, where the CLI and every run look for them
(stores/carddav_auth.py): the password in the system keyring when the `keyring` package has a
working backend, else in `~/.config/personsync/carddav.toml`, written readable by its owner only
(mode 0600). The file names the user of each server:

    ["cloud.example.org"]
    user = "alice"
    password = "app-password"

The password is never shown in a page, a log or a URL: pages list the servers and their users.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from personsync.errors import ConfigError, UsageError
from personsync.stores.carddav_auth import KEYRING_SERVICE, config_file, split_user


def server_host(address: str) -> str:
    """The host name the credentials are kept under (`carddav_auth` looks them up by it)."""
    clean, _ = split_user(address.strip().removeprefix("carddav:"))
    return urlsplit(clean).hostname or ""


def _read(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from exc
    return {
        host: {k: str(v) for k, v in entry.items()}
        for host, entry in data.items()
        if isinstance(entry, dict)
    }


def _write(path: Path, data: dict[str, dict[str, str]]) -> None:
    # JSON's string escapes are TOML's basic-string escapes, so json.dumps quotes any value;
    # a file of one table per host needs no TOML writer beyond that.
    lines = []
    for host, entry in sorted(data.items()):
        lines.append(f"[{json.dumps(host)}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in sorted(entry.items())]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    # Created 0600 before a byte is written: never readable by others, not even for a moment.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, "\n".join(lines).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def _keyring_set(user: str, host: str, password: str) -> bool:
    """The password into the system keyring; False where there is no usable one."""
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
        from keyring.backends import fail  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return False
        keyring.set_password(KEYRING_SERVICE, f"{user}@{host}", password)
    except Exception:  # a locked or absent keyring: the file instead
        return False
    return True


def save(address: str, user: str, password: str) -> str:
    """Keep `user`'s password for the server at `address`; where it went ("keyring" or the
    file's path)."""
    host = server_host(address)
    user = user.strip()
    if not user:
        raise UsageError("the CardDAV server needs a user name")
    if not password:
        raise UsageError("the CardDAV server needs a password (an app password, often)")
    path = config_file()
    data = _read(path)
    # The address too: the wizard offers it for finding the server's address books.
    entry = {"user": user, "address": split_user(address.strip().removeprefix("carddav:"))[0]}
    if _keyring_set(user, host, password):
        where = "the system keyring"
    else:
        entry["password"] = password
        where = str(path)
    data[host] = entry
    _write(path, data)
    return where


def forget(host: str) -> None:
    path = config_file()
    data = _read(path)
    if data.pop(host, None) is not None:
        _write(path, data)


def servers() -> list[tuple[str, str, str]]:
    """(host, user, address) of each server with saved credentials; never a password."""
    return [
        (host, entry.get("user", ""), entry.get("address", f"https://{host}/"))
        for host, entry in sorted(_read(config_file()).items())
    ]
