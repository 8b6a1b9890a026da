"""Real CardDAV servers for tests and benchmarks: Radicale and Xandikos (dev dependencies, GPL),
each started as its own HTTP server process on a free loopback port (`running`).

Each user of a server takes a fresh address book under the server's user (`Server.book()`): the
store makes it with extended MKCOL, as it does for a person.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_books = itertools.count(1)


@dataclass
class Server:
    kind: str  # "radicale" | "xandikos"
    base: str  # http://127.0.0.1:PORT
    home: str  # the user's address book home path, e.g. /alice/
    user: str
    storage: Path

    def book(self, name: str = "") -> str:
        """The URL (with the user) of a new, not yet existing address book."""
        name = name or f"book{os.getpid()}-{next(_books)}"
        host = self.base.removeprefix("http://")
        return f"http://{self.user}@{host}{self.home}{name}/"

    def plain(self, url: str) -> str:
        """`url` without its user name, for a plain HTTP client."""
        return url.replace(f"{self.user}@", "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server at {base} exited with {proc.returncode}")
        try:
            httpx.request("OPTIONS", base + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"the server at {base} did not start")


# Radicale's item cache keyed by each file's mtime and size instead of a SHA-256 of its
# content: every PUT of a new card checks its UID against every card of the address book
# (`has_uid` reads them all), so without it each create reads and hashes the whole book.
RADICALE_BENCH = ["--storage-use-mtime-and-size-for-item-cache", "True"]
# Radicale's own storage with its UID check answered from an index (`radicale_uid_index`): for
# the benchmarks at 10,000 cards only, named as such wherever a figure was measured with it.
RADICALE_UID_INDEX = ["--storage-type", "personsync.testing.radicale_uid_index"]


def command(
    kind: str,
    storage: Path,
    port: int,
    auth_file: Path | None = None,
    *,
    bench: bool = False,
    uid_index: bool = False,
) -> list[str]:
    if kind == "radicale":
        auth = ["--auth-type", "none"]
        if auth_file:
            auth = ["--auth-type", "htpasswd", "--auth-htpasswd-encryption", "plain"]
            auth += ["--auth-htpasswd-filename", str(auth_file)]
        return [
            sys.executable,
            "-m",
            "radicale",
            "--storage-filesystem-folder",
            str(storage),
            *auth,
            "--rights-type",
            "owner_only",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--logging-level",
            "warning",
            *(RADICALE_BENCH if bench else []),
            *(RADICALE_UID_INDEX if uid_index else []),
        ]
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / "xandikos"), "serve", "-d", str(storage), "--defaults"]  # port below


@contextmanager
def running(
    kind: str,
    storage: Path,
    auth_file: Path | None = None,
    *,
    bench: bool = False,
    uid_index: bool = False,
) -> Iterator[Server]:
    """`kind` serving `storage` on a free port; `auth_file` (Radicale): plain htpasswd users;
    `bench`: the settings of the benchmarks (`RADICALE_BENCH`; see docs/benchmarks.md);
    `uid_index` (Radicale): its UID check from an index (`RADICALE_UID_INDEX`)."""
    port = free_port()
    argv = command(kind, storage, port, auth_file, bench=bench, uid_index=uid_index)
    if kind == "xandikos":
        argv += ["-l", "127.0.0.1", "-p", str(port)]
        home, user = "/user/contacts/", "user"
    else:
        home, user = "/alice/", "alice"
    storage.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, proc)
        yield Server(kind, base, home, user, storage)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


SERVER_KINDS = ("radicale", "xandikos")
