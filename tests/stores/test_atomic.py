"""`stores/atomic.py`: new files are written unnamed and named once complete (Linux's
O_TMPFILE + linkat), other writes go temp file + rename; either way readers and crashes see
the old file or the new one, and nothing is left behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from personsync.errors import StoreError
from personsync.stores import atomic

needs_unnamed = pytest.mark.skipif(
    not atomic._UNNAMED or not os.path.isdir("/proc/self/fd"), reason="Linux only"
)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    atomic._NO_UNNAMED.clear()


@needs_unnamed
def test_a_new_file_is_written_unnamed_then_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed: list[str] = []
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: renamed.append(a))
    old_umask = os.umask(0o027)
    try:
        stat = atomic.write_atomic(tmp_path / "a.vcf", b"BEGIN:VCARD\n", new=True)
        stat2 = atomic.write_atomic(tmp_path / "b.vcf", b"x", durable=False, new=True)
    finally:
        os.umask(old_umask)
    assert renamed == []  # no temp file went through a rename
    assert sorted(os.listdir(tmp_path)) == ["a.vcf", "b.vcf"]
    assert (tmp_path / "a.vcf").read_bytes() == b"BEGIN:VCARD\n"
    on_disk = os.stat(tmp_path / "a.vcf")
    assert on_disk.st_mode & 0o777 == 0o640  # created 0666 less the umask, like any new file
    # The returned stat is the named file's: versions are derived from it.
    assert (stat.st_ino, stat.st_size, stat.st_mtime_ns) == (
        on_disk.st_ino,
        on_disk.st_size,
        on_disk.st_mtime_ns,
    )
    assert stat2.st_ino == os.stat(tmp_path / "b.vcf").st_ino
    assert not atomic._NO_UNNAMED


def test_where_unnamed_files_are_refused_the_temp_file_way_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[int] = []
    real_open = os.open

    def no_tmpfile(path: str, flags: int, mode: int = 0o777) -> int:
        if atomic._UNNAMED and flags & atomic._UNNAMED == atomic._UNNAMED:
            tried.append(flags)
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, mode)

    monkeypatch.setattr(atomic.os, "open", no_tmpfile)
    for name in ("a.vcf", "b.vcf"):
        atomic.write_atomic(tmp_path / name, name.encode(), new=True)
    assert sorted(os.listdir(tmp_path)) == ["a.vcf", "b.vcf"]
    assert (tmp_path / "b.vcf").read_bytes() == b"b.vcf"
    if atomic._UNNAMED:
        assert len(tried) == 1  # the folder is remembered: asked once, not per file
        assert str(tmp_path) in atomic._NO_UNNAMED


@needs_unnamed
def test_without_a_readable_proc_the_temp_file_way_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_proc() -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/proc/self/fd")

    monkeypatch.setattr(atomic, "_proc_fds", no_proc)
    atomic.write_atomic(tmp_path / "a.vcf", b"card", new=True)
    assert os.listdir(tmp_path) == ["a.vcf"] and (tmp_path / "a.vcf").read_bytes() == b"card"
    assert str(tmp_path) in atomic._NO_UNNAMED  # not tried again for this folder


def test_a_folder_without_write_permission_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unnamed file is refused; the usual way then says why, naming the file. (Simulated:
    this suite runs as root, which may write anywhere.)"""
    asked: list[int] = []

    def refused(path: str, flags: int, mode: int = 0o777) -> int:
        asked.append(flags)
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(atomic.os, "open", refused)
    with pytest.raises(StoreError, match=r"a\.vcf: Permission denied"):
        atomic.write_atomic(tmp_path / "a.vcf", b"card", new=True)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    assert len(asked) == (2 if atomic._UNNAMED else 1)  # unnamed, then the usual way
    assert str(tmp_path) not in atomic._NO_UNNAMED  # a refusal here says nothing of the folder


@needs_unnamed
def test_a_taken_name_is_still_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "taken.vcf"
    path.write_bytes(b"old")
    before = os.stat(path).st_ino
    atomic.write_atomic(path, b"new", new=True)
    assert path.read_bytes() == b"new" and os.stat(path).st_ino != before
    assert os.listdir(tmp_path) == ["taken.vcf"]


@needs_unnamed
def test_a_failed_write_names_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", disk_full)
    with pytest.raises(StoreError, match=r"a\.vcf: No space left"):
        atomic.write_atomic(tmp_path / "a.vcf", b"data", new=True)
    assert os.listdir(tmp_path) == []


@needs_unnamed
def test_a_process_killed_before_naming_leaves_nothing(tmp_path: Path) -> None:
    """kill -9 after the bytes are written but before the name is given: the unnamed file goes
    with the process. (The temp file way leaves a `.personsync-*.tmp` to clean up.)"""
    ready = tmp_path / "ready"
    folder = tmp_path / "cards"
    folder.mkdir()
    code = textwrap.dedent(
        f"""
        import os, time
        from personsync.stores import atomic
        def stall(*args, **kwargs):
            open({str(ready)!r}, "w").close()
            time.sleep(60)
        atomic.os.link = stall
        atomic.write_atomic({str(folder / "a.vcf")!r}, b"BEGIN:VCARD\\n" * 100, new=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert ready.exists(), "the child never reached the naming step"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert os.listdir(folder) == []


@needs_unnamed
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_names_its_own_file(tmp_path: Path) -> None:
    """The /proc/self/fd descriptor kept for naming shows the descriptors of the process that
    opened it: a forked child must use its own, or it would name whatever file its parent has
    open under the same number."""
    atomic.write_atomic(tmp_path / "parent.vcf", b"parent", new=True)  # opens the parent's
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: waits until the parent holds a file under its next number
        code = 1
        try:
            os.read(go_read, 1)
            atomic.write_atomic(tmp_path / "child.vcf", b"child", new=True)
            code = 0
        finally:
            os._exit(code)
    # The lowest free number, the very one the child's unnamed file gets.
    decoy = os.open(tmp_path / "parent.vcf", os.O_RDONLY)
    try:
        os.write(go_write, b"x")
        _, status = os.waitpid(pid, 0)
    finally:
        for fd in (decoy, go_read, go_write):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "child.vcf").read_bytes() == b"child"
    assert (tmp_path / "parent.vcf").read_bytes() == b"parent"
