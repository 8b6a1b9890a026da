"""Atomic file replacement shared by the file-based contact stores.

A reader (or a crash) sees either the old file or the new one, never a half-written file: the
bytes go to a temp file in the same directory (same filesystem, so `os.replace` is a rename),
which is fsynced before the rename; the directory is fsynced after so the rename itself survives
a power cut.

A new file (a fresh name) is written, where Linux allows, as an unnamed file (`O_TMPFILE`) that
is given its name once complete (`linkat`): as atomic for readers, nothing left behind by a
crash (an unnamed file vanishes with its process), and cheaper than temp file + rename, which
enters and removes one more name in the directory (a quarter to a third less system time per
file on ext4 here, docs/benchmarks.md). See `_write_new`.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
from pathlib import Path

from personsync.errors import StoreError

TEMP_PREFIX = ".personsync-"
TEMP_SUFFIX = ".tmp"
_TEMP_COUNTER = itertools.count()


def write_atomic(
    path: Path | str, data: bytes, *, durable: bool = True, new: bool = False
) -> os.stat_result:
    """Replace `path` with `data` atomically; on any failure the old file is left intact.
    Returns the new file's stat (callers derive versions from it without another stat).

    `durable=False` skips the fsyncs (still atomic for readers) for a batch of many files that
    the caller makes durable at once with `sync_all()`: one fsync per small file costs ~2 ms.
    `new=True`: the caller knows no file is there (a fresh UUID name), so the stat for the old
    file's permissions is skipped; were one there after all, it is still replaced atomically."""
    directory = os.path.dirname(path)
    if new and _UNNAMED and directory not in _NO_UNNAMED:
        stat = _write_new(directory, path, data, durable=durable)
        if stat is not None:
            return stat
    mode = None if new else _mode(path)
    fd, temp_name = _open_temp(directory, path)
    try:
        # Plain os calls on the descriptor, not a file object: os.fdopen adds an fstat, an
        # lseek and an ioctl per file, which were a third of the system time writing 100,000.
        try:
            _write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)  # an existing file keeps its permissions
            if durable:
                os.fsync(fd)
            stat = os.fstat(fd)  # a rename changes neither mtime, size nor inode
        finally:
            os.close(fd)
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    if durable:
        _fsync_dir(directory)
    return stat


# Linux's unnamed files; elsewhere (and where the folder's filesystem or /proc refuses them, see
# `_NO_UNNAMED`) new files go the temp file + rename way.
_UNNAMED = getattr(os, "O_TMPFILE", 0)
_NO_UNNAMED: set[str] = set()
_PROC_FD: dict[int, int] = {}  # pid → its open /proc/self/fd, for linkat


def _write_new(
    directory: str, path: Path | str, data: bytes, *, durable: bool
) -> os.stat_result | None:
    """Write a file that must not exist yet as an unnamed file, then name it. None when this
    cannot be done here (the caller writes it the usual way, which also reports any real
    failure, such as a folder without write permission): the folder's filesystem has no
    unnamed files, there is no /proc to name one through, or the name is taken after all (a
    link cannot replace a file; the usual way replaces it atomically).

    Naming goes through /proc/self/fd with linkat(AT_SYMLINK_FOLLOW), the way open(2) gives
    for unprivileged processes (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH). os.link takes that
    path only when given a directory descriptor, hence `_proc_fds`."""
    flags = _UNNAMED | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(directory or ".", flags, 0o666)  # the umask applies, as for a new file
    except OSError as exc:
        if exc.errno in _NOT_HERE:
            _NO_UNNAMED.add(directory)
        return None
    try:
        _write_all(fd, data)
        if durable:
            os.fsync(fd)
        stat = os.fstat(fd)  # a link changes neither mtime, size nor inode
        try:
            procfd = _proc_fds()
        except OSError:  # no /proc, or one this process may not read
            _NO_UNNAMED.add(directory)
            return None
        try:
            os.link(str(fd), path, src_dir_fd=procfd, follow_symlinks=True)
        except OSError as exc:
            # Refused (remembered where it says "not here"), or the name is taken after all.
            if exc.errno in _NOT_HERE:
                _NO_UNNAMED.add(directory)
            return None
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)  # unnamed, its inode is freed with the descriptor
    if durable:
        _fsync_dir(directory)
    return stat


# What says "not on this filesystem or system", so that the folder goes the usual way from then
# on (any other failure falls back for that file only, and the usual way reports it): no
# support (EOPNOTSUPP, EISDIR, EINVAL on old kernels), no /proc (ENOENT, ENOTDIR), a link
# refused across mounts or by the filesystem (EXDEV, EPERM).
_NOT_HERE = {
    getattr(errno, name)
    for name in ("EOPNOTSUPP", "ENOTSUP", "EISDIR", "EINVAL", "ENOENT", "ENOTDIR", "EXDEV", "EPERM")
    if hasattr(errno, name)
}


def _proc_fds() -> int:
    """This process's /proc/self/fd, opened once. Per pid: a forked child inherits the
    descriptor, which still shows its parent's descriptors, and must open its own."""
    pid = os.getpid()
    fd = _PROC_FD.get(pid)
    if fd is None:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = _PROC_FD[pid] = os.open("/proc/self/fd", flags)
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _mode(path: Path | str) -> int | None:
    """The permissions of the file `path` replaces: None for a new file (created 0666, and
    the kernel applies the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _open_temp(directory: str, path: Path | str) -> tuple[int, str]:
    # Not tempfile.mkstemp: its random names cost more than the write itself for small cards
    # (2.8 s of 8.5 s creating 20,000 of them). A pid + counter name opened with O_EXCL is as
    # safe; a leftover of a crashed process with a reused pid just moves the counter on.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    pid = os.getpid()
    for _ in range(1000):
        name = os.path.join(directory, f"{TEMP_PREFIX}{pid}-{next(_TEMP_COUNTER)}{TEMP_SUFFIX}")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    raise StoreError(f"cannot write {path}: no free temporary file name in {directory}")


def sync_all() -> None:
    """Make a batch of `durable=False` writes durable (one system-wide sync)."""
    os.sync()


def _fsync_dir(directory: str) -> None:
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
