"""Reading a child's pseudo-terminal in the tests that answer a command's questions."""

from __future__ import annotations

import os
import select
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
