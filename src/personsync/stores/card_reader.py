"""Reading the vCard folder's files: one file at a time, or a big read split with a helper
process that parses every other chunk on the other core.

Why a helper: an import reads and parses every card before it can plan (the plan needs them all
for matching), about 90 µs a card here, while the second core sits idle. Unpickling a parsed
contact costs a fifth of parsing it, so the helper parsing half the chunks takes about 40 % off
the read. Values repeated across the cards (cities, first names) are shared again as the
helper's contacts arrive (`model.share_unpickled`), as the cards parsed here are.

Safety: the helper only reads. It stops when its input ends or its parent is gone; if it fails,
the chunks it did not answer are read here, so a read never depends on it.

Protocol over the helper's stdin/stdout, pickled (a private pipe between two processes of the
same program): a list of (item_id, path) → a list of `Got` for them, in order.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from personsync.errors import FormatError
from personsync.formats.vcard import ONE_VERSION, STRAY_TEXT, read_cards
from personsync.formats.vcard_read import VCardExtra
from personsync.model import Contact, share_unpickled
from personsync.stores.base import ReadProblem
from personsync.stores.card_files import file_version, read_path
from personsync.stores.file_writer import end_helper, helper_main, widen_pipe

CHUNK = 500  # files per chunk, alternately read here and by the helper
IN_FLIGHT = 2  # chunks the helper holds: it starts the next while this process reads one
DEFAULT_MIN = 4 * CHUNK  # below this, starting the helper (about 0.2 s) costs more than it saves

# A file's outcome: the contact (or why it cannot be read), its version, and whether the file
# holds one card only; None when the file is gone; a message when it cannot be read at all.
Got = tuple[Contact | ReadProblem, str, bool] | None | str


def read_file(path: str) -> tuple[bytes, str] | None:
    """The file's bytes and version; None when it is gone."""
    got = read_path(path)
    return None if got is None else (got[0], file_version(got[1]))


def parse_file(
    item_id: str, path: str, data: bytes, version: str, fallback: str, shared: dict[Any, Any]
) -> tuple[Contact | ReadProblem, bool]:
    """The file's card as `item_id` at `version`, and whether the file holds that card only.
    A file of several cards is reported, each card named, and none of them is synced: a file
    of a vCard folder is one contact, and syncing the first alone would drop the others
    without a word (`vcf-file:` is the store for a file of many cards)."""
    if not data.strip():
        return ReadProblem(item_id, FormatError("the file is empty", source=path)), True
    cards: list[Contact | FormatError] = []
    stray: list[FormatError] = []
    for got in read_cards(data, path, fallback_encoding=fallback, shared=shared):
        if isinstance(got, Contact) or got.reason not in _NOT_A_CARD:
            cards.append(got)
        else:
            stray.append(got)
    if len(cards) > 1:
        return ReadProblem(item_id, _several(path, cards)), False
    first = cards[0] if cards else stray[0] if stray else None
    if not isinstance(first, Contact):
        return ReadProblem(item_id, first or FormatError("no card in the file", source=path)), True
    said = [f"line {g.line}: {g.reason}" for g in stray]
    unmapped = (*first.unmapped, *said) if said else first.unmapped
    extra = first.extra
    if isinstance(extra, VCardExtra) and extra.uid == item_id:
        # A file named after its card's UID (personsync's older names, vdirsyncer's): the
        # card keeps the item id's string, not an equal copy (8 MB of an import of 100,000).
        # In place, as the dataclass's own __init__ sets it: the card was just read, no one
        # else holds it yet.
        object.__setattr__(extra, "uid", item_id)
    # Made directly: dataclasses.replace walks the fields in Python, once per card read.
    return Contact(first.record, item_id, version, first.customer_id, extra, unmapped), True


_NOT_A_CARD = {STRAY_TEXT}  # text outside the cards is no card of its own


def _several(path: str, cards: list[Contact | FormatError]) -> FormatError:
    named = []
    for card in cards[:10]:
        if isinstance(card, Contact):
            named.append(card.display_name or "(no name)")
        else:
            named.append(f"line {card.line}: {card.reason}")
    more = f" and {len(cards) - 10} more" if len(cards) > 10 else ""
    return FormatError(
        f"holds {len(cards)} cards ({'; '.join(named)}{more}): a file of a vCard folder is one "
        "contact, so none of them is synced",
        source=path,
        hint="give each card a file of its own, or use vcf-file: for a file of many cards",
    )


def read_one(item_id: str, path: str, fallback: str, shared: dict[Any, Any]) -> Got:
    try:
        got = read_file(path)
    except OSError as exc:
        return f"cannot read {os.path.basename(path)}: {exc.strerror or exc}"
    if got is None:
        return None
    data, version = got
    result, single = parse_file(item_id, path, data, version, fallback, shared)
    return result, version, single


def read_many(
    item_ids: Sequence[str],
    path_of: Callable[[str], str | None],
    fallback: str,
    shared: dict[Any, Any],
    helper_from: int = DEFAULT_MIN,
) -> Iterator[tuple[str, Got]]:
    """(item_id, what was read) for every item whose file `path_of` finds, a chunk at a time;
    for a read of `helper_from` items or more every other chunk is parsed by the helper process.
    In chunk order, not item order. Paths are made a chunk at a time: 100,000 of them at once
    held 20 MB."""
    chunks = [item_ids[i : i + CHUNK] for i in range(0, len(item_ids), CHUNK)]
    if len(item_ids) < helper_from or len(chunks) < 2:
        for chunk in chunks:
            yield from _here(_jobs(chunk, path_of), fallback, shared)
        return
    theirs, ours = deque(chunks[0::2]), chunks[1::2]
    helper = _Helper(fallback)
    sent: deque[list[tuple[str, str]]] = deque()
    try:
        for own in [*ours, *([None] * (len(theirs) - len(ours)))]:
            while theirs and len(sent) < IN_FLIGHT:
                sent.append(_jobs(theirs.popleft(), path_of))
                helper.send(sent[-1])
            if own is not None:
                yield from _here(_jobs(own, path_of), fallback, shared)
            if not sent:
                continue
            part = sent.popleft()
            answers = helper.receive(len(part))
            if answers is None:  # the helper failed: this process reads its chunks
                for jobs in [part, *sent, *(_jobs(c, path_of) for c in theirs)]:
                    yield from _here(jobs, fallback, shared)
                sent.clear()
                theirs.clear()
                continue
            for (item_id, _), got in zip(part, answers, strict=True):
                if isinstance(got, tuple) and isinstance(got[0], Contact):
                    share_unpickled(got[0].record, shared)  # across the helper's chunks
                    _one_copy(got[0], item_id)
                yield item_id, got
    finally:
        helper.close()


def _one_copy(contact: Contact, item_id: str) -> None:
    """An unpickled contact (and its card's UID, where that is the item id) holds the caller's
    string of its item id, and its card the one string of its vCard version, not equal copies:
    8 and 5 MB of a first sync's 100,000 contacts. In place, as `parse_file` does: the
    contact was just unpickled, no one else holds it."""
    if contact.item_id == item_id:
        object.__setattr__(contact, "item_id", item_id)
    extra = contact.extra
    if isinstance(extra, VCardExtra):
        if extra.uid == item_id:
            object.__setattr__(extra, "uid", item_id)
        object.__setattr__(extra, "version", ONE_VERSION.get(extra.version, extra.version))


def _jobs(item_ids: Sequence[str], path_of: Callable[[str], str | None]) -> list[tuple[str, str]]:
    return [(i, path) for i in item_ids if (path := path_of(i)) is not None]


def _here(
    jobs: Sequence[tuple[str, str]], fallback: str, shared: dict[Any, Any]
) -> Iterator[tuple[str, Got]]:
    for item_id, path in jobs:
        yield item_id, read_one(item_id, path, fallback, shared)


class _Helper:
    def __init__(self, fallback: str) -> None:
        self.failed = False
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "personsync.stores.card_reader", str(os.getpid()), fallback],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # Its own process group: a Ctrl-C at the terminal reaches the run alone, which ends
            # the helper's input (a Ctrl-C during the helper's start-up printed its traceback).
            process_group=0,
        )

    def send(self, jobs: Sequence[tuple[str, str]]) -> None:
        if self._proc is None or self._proc.stdin is None:
            return
        try:
            pickle.dump(list(jobs), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except (OSError, ValueError):
            self._stop()

    def receive(self, expected: int) -> list[Got] | None:
        """The answers for the oldest chunk sent; None if the helper failed."""
        if self._proc is None or self._proc.stdout is None:
            return None
        try:
            answers: list[Got] = pickle.load(self._proc.stdout)  # noqa: S301 - our own helper
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            self._stop()
            return None
        if len(answers) != expected:
            self._stop()
            return None
        return answers

    def _stop(self) -> None:
        self.failed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            end_helper(proc, timeout=10)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            end_helper(proc, timeout=10)


# --- the helper's side ---------------------------------------------------------------------------


def serve(parent: int, fallback: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    widen_pipe(answers)  # a chunk's answer (about 200 KB) goes out without waiting for the reader
    shared: dict[Any, Any] = {}
    while True:
        try:
            jobs = pickle.load(requests)  # noqa: S301 - from the parent, on its pipe
        except EOFError:
            return
        if os.getppid() != parent:
            return  # the run is gone
        out = [read_one(item_id, path, fallback, shared) for item_id, path in jobs]
        pickle.dump(out, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    helper_main(serve, int(sys.argv[1]), sys.argv[2], sys.stdin.buffer, sys.stdout.buffer)
