"""Reading a child's pseudo-terminal in the tests that answer a command's questions."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """What `fd` gives until `marker` shows (or `seconds` pass, or it closes)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def in_terminal(command: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """`command` started with a pseudo-terminal for stdin, stdout and stderr (200 columns):
    the child, and the terminal's side for `read_until` and answers. The caller kills the
    child and closes the fd."""
    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        command,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
    )
    os.close(secondary)
    return child, primary
