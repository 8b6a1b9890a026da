"""Is a file-based contact folder writable? Asked once before a run, so that a read-only folder
is one clear error instead of one failed write per contact."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from personsync.errors import StoreError

# Schemes whose folders are local paths; the others (graph:) find out on their first request.
FILE_SCHEMES = {"vcf": "folder", "vcf-file": "file", "csv": "file"}


def check_writable(url: str) -> None:
    """StoreError naming the place when a run could not write there (read-only file system, no
    permission). Tried for real, with a file made and removed at once: permission bits do not
    tell about read-only mounts, nor about root."""
    scheme, _, rest = url.partition(":")
    kind = FILE_SCHEMES.get(scheme)
    if kind is None or not rest:
        return
    path = Path(rest).expanduser()
    if kind == "file" and path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"{url}: the file {path} is read-only",
            hint="make it writable, or choose another folder; nothing was written",
        )
    # A card is written as a new file renamed into place: its folder must take new files.
    place = path if kind == "folder" else path.parent
    while not place.exists() and place != place.parent:
        place = place.parent  # a missing folder is made by the run: its parent must be writable
    try:
        handle, probe = tempfile.mkstemp(prefix=".personsync-write-check-", dir=place)
    except OSError as exc:
        raise StoreError(
            f"{url}: cannot write in {place}: {exc.strerror or exc}",
            hint="make the folder writable (or run as a user who may write there), or choose "
            "another folder; nothing was written",
        ) from exc
    os.close(handle)
    os.unlink(probe)
