"""Atomic file replacement shared by the file-based contact stores.

A reader (or a crash) sees either the old file or the new one, never a half-written file: the
bytes go to a temp file in the same directory (same filesystem, so `os.replace` is a rename),
which is fsynced before the rename; the directory is fsynced after so the rename itself survives
a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from personsync.errors import StoreError

TEMP_PREFIX = ".personsync-"
TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data` atomically; on any failure the old file is left intact.

    `durable=False` skips the fsyncs (still atomic for readers) for a batch of many files that
    the caller makes durable at once with `sync_all()`: one fsync per small file costs ~2 ms."""
    directory = path.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        _keep_mode(path, temp_name)
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    if durable:
        _fsync_dir(directory)


def sync_all() -> None:
    """Make a batch of `durable=False` writes durable (one system-wide sync)."""
    os.sync()


def is_temp_name(name: str) -> bool:
    """True for the temp files `write_atomic` makes (left behind only by a crash)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def _keep_mode(path: Path, temp_name: str) -> None:
    # mkstemp creates 0600; an existing file keeps its permissions, a new one gets the umask's.
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temp_name, mode)


def _fsync_dir(directory: Path) -> None:
    # Not every platform/filesystem allows opening a directory; the rename is done either way.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
