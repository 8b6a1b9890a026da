"""A helper process that writes the vCard folder's batches, beside the run that makes them.

Why a process: creating or replacing a small file costs 35-70 µs of kernel time on ext4 on the
project's 2-core test machine, as long as all the Python work for the same record, and 100,000
of them are most of a full export. A thread cannot overlap that work: each of the five system
calls per file has to take the GIL back, and while the engine is busy in Python the thread waits
a switch interval for it; worse, a busy thread took the GIL from the engine's database calls
(SQLite releases it for every row) and slowed them threefold. The helper runs the same
`write_atomic` (a new card unnamed, then named; others a temp file renamed into place) on the
other core, while this process records the previous chunk. New cards cross the pipe as their
parts and the helper renders them, except for the share this process renders itself when the
helper falls behind (`FileWriter._balance`: on a slow disk, where the kernel's part of
creating a file is large).

Safety:
- The helper writes only what it is sent, in order, and answers once per batch, after the
  batch's files (and, when asked, a sync); answers are small, so the two processes never wait on
  each other's full pipe.
- It stops when its parent is gone (checked before every file; when idle its input ends), so a
  run that is killed never leaves a process writing behind the back of the next run: at most
  the one file being written is finished, atomically.
- If the helper dies, every file of the open batches is reported as failed (some may be
  written: their cards carry their Customer IDs, which is how the next run finds them again).

Protocol over the helper's stdin/stdout, pickled (a private pipe between two processes of the
same program): ("write", [job, ...])*, then ("end", sync) → a list with, per file of the batch,
(mtime_ns, size, inode) or an error message. A job is (path, data, new): write the file (data
may be a new card's parts, rendered here); or (path, line, version): put the Customer ID `line`
into the card (`card_files.insert_line`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

from personsync.errors import StoreError
from personsync.stores.atomic import sync_all, write_atomic
from personsync.stores.base import Finish, ItemRef
from personsync.stores.card_files import NewCard, insert_line, render

# (path, data, new: no file there, see write_atomic), where data may be a card's parts to render
# (`card_files.NewCard`), or (path, line, version it must still have). Plain tuples: the helper
# runs this module as __main__, where a class sent by reference would not be the class its
# checks know.
Job = tuple[str, bytes | NewCard, bool | str]
T = TypeVar("T")
K = TypeVar("K")
_SLICE = 100  # files sent at a time: the helper starts on them while more are rendered
_PENDING = StoreError("not written")  # a placeholder, replaced before a batch is collected
Written = tuple[int, int, int]  # mtime_ns, size, inode
_BEHIND_SECONDS = 0.002  # a wait longer than this for a batch: the helper is behind
_BALANCE_STEP = 0.1  # how far the share rendered here moves per batch
DEFAULT_MIN_BATCH = 64  # below this, starting the helper (about 60 ms) costs more than it saves


class FileWriter:
    """One helper process for one store, started on first use; `close` stops it."""

    def __init__(self, label: str) -> None:
        self.label = label  # the store's URL, for error messages
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent = 0  # files sent in the batch not yet ended
        self._batches: deque[tuple[int, int]] = deque()  # (ticket, files): answers not read
        self._answers: dict[int, list[Written | StoreError]] = {}  # read, not yet collected
        self._tickets = itertools.count()
        # Why the helper stopped, if it did: the batches open then fail, and so does this writer
        # (the store writes in-process from then on; see `failed`).
        self.failed: BaseException | None = None
        # The share of new cards this process renders itself, moved after each batch (`_balance`).
        self.render_here = 0.0
        self._credit = 0.0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            if self.failed is not None:
                raise OSError("the helper stopped earlier")
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "personsync.stores.file_writer", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Its own process group: a Ctrl-C at the terminal reaches the run alone, which ends
                # the helper's input (a Ctrl-C during the helper's start-up printed its traceback).
                process_group=0,
            )
            widen_pipe(self._proc.stdin)
        return self._proc

    def begin(
        self,
        items: Sequence[T],
        prepare: Callable[[T], tuple[Job, K]],
        done: Callable[[K, Written], ItemRef],
    ) -> Finish:
        """Send a batch, a slice at a time (the helper starts on the first while the rest are
        rendered); the returned function collects it. `prepare` makes an item's file (a
        StoreError is that item's result), `done` turns its written file into the item's ref."""
        results: list[ItemRef | StoreError] = []
        made: list[tuple[int, K]] = []
        jobs: list[Job] = []
        for position, item in enumerate(items):
            try:
                job, key = prepare(item)
            except StoreError as exc:
                results.append(exc)
                continue
            results.append(_PENDING)
            made.append((position, key))
            jobs.append(self._render_some(job))
            if len(jobs) >= _SLICE:
                self.send(jobs)
                jobs = []
        self.send(jobs)
        ticket = self.end_batch(sync=True)

        def finish() -> list[ItemRef | StoreError]:
            for (position, key), got in zip(made, self.collect(ticket), strict=True):
                results[position] = got if isinstance(got, StoreError) else done(key, got)
            return results

        return finish

    def send(self, jobs: list[Job]) -> None:
        """Add files to the current batch; the helper starts on them at once."""
        if not jobs:
            return
        self._sent += len(jobs)
        self._put(("write", jobs))

    def end_batch(self, *, sync: bool) -> int:
        """Close the current batch (made durable after its last file if `sync`); its ticket."""
        ticket = next(self._tickets)
        self._batches.append((ticket, self._sent))
        if self._sent:
            self._put(("end", sync))
        self._sent = 0
        return ticket

    def collect(self, ticket: int) -> list[Written | StoreError]:
        """Wait for a batch: per file, its stat or its error. Batches are answered in the
        order they were ended; the answers of earlier ones are kept for their own `collect`."""
        started = time.perf_counter()
        while ticket not in self._answers:
            if not self._batches:
                raise ValueError(f"no batch {ticket} is waiting")
            earlier, expected = self._batches.popleft()
            self._answers[earlier] = self._read(expected)
        self._balance(waited=time.perf_counter() - started)
        return self._answers.pop(ticket)

    def _balance(self, waited: float) -> None:
        """Who renders new cards. The helper does, by default: rendering a card costs more
        than sending its values. But where creating a file costs the kernel much (a slow disk:
        50-90 µs a file here, against 15 µs in memory) the helper falls behind and this process
        waits for it; then this process renders a larger share itself, and a smaller one again
        once the helper keeps up. A batch that was ready when asked for says it keeps up."""
        step = _BALANCE_STEP if waited > _BEHIND_SECONDS else -_BALANCE_STEP
        self.render_here = min(1.0, max(0.0, self.render_here + step))

    def _render_some(self, job: Job) -> Job:
        """Render this share of the new cards here (spread evenly over the batch)."""
        path, data, how = job
        if isinstance(data, bytes) or not self.render_here:
            return job
        self._credit += self.render_here
        if self._credit < 1.0:
            return job
        self._credit -= 1.0
        try:
            return (path, render(data), how)
        except Exception:  # the helper renders it and reports the error for its file
            return job

    def _read(self, expected: int) -> list[Written | StoreError]:
        if not expected:
            return []
        proc = self._proc
        try:
            if proc is None:
                raise self.failed or EOFError("not running")
            answers: list[Written | str] = _get(proc.stdout)
            if len(answers) != expected:
                raise ValueError(f"{len(answers)} answers for {expected} files")
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            self._broken(exc)
            return [self._gone(exc)] * expected
        return [a if isinstance(a, tuple) else StoreError(a) for a in answers]

    def close(self) -> None:
        """Let the helper finish what it was sent, then stop it."""
        proc, self._proc = self._proc, None
        self._batches.clear()
        self._answers.clear()
        if proc is not None:
            end_helper(proc, timeout=60)

    def _put(self, message: Any) -> None:
        if self.failed is not None:
            return  # every open batch reports it on `collect`
        try:
            _put(self._start().stdin, message)
        except (OSError, ValueError) as exc:
            # Its answers are lost with it: every open batch reports the error on `collect`.
            self._broken(exc)

    def _broken(self, exc: BaseException) -> None:
        self.failed = self.failed or exc
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()

    def _gone(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"{self.label}: the file-writing helper process stopped ({exc or type(exc).__name__})",
            hint="run again: files it wrote are found again by their Customer IDs",
        )


def end_helper(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """End a helper's input, so that it exits once done; kill it after `timeout` seconds."""
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


PIPE_BYTES = 1 << 20


def widen_pipe(stream: IO[bytes] | None) -> None:
    """Let the pipe to the helper hold two chunks (Linux's default holds 64 KiB, a sixth of
    one): the run then hands over a chunk and goes on while the helper is still on the last
    one, instead of waiting for it (2 s of a full export's 11 with the default). Elsewhere, or
    when the system forbids it, the pipe stays as it is: only slower."""
    try:
        import fcntl  # POSIX only
    except ImportError:
        return
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if stream is None or set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(stream.fileno(), set_size, PIPE_BYTES)


def _put(stream: IO[bytes] | None, message: Any) -> None:
    if stream is None:
        raise ValueError("no pipe to the helper")
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _get(stream: IO[bytes] | None) -> Any:
    if stream is None:
        raise ValueError("no pipe from the helper")
    return pickle.load(stream)  # noqa: S301 - our own helper's answer on a private pipe


# --- the helper's side ---------------------------------------------------------------------------


def serve(parent: int, requests: IO[bytes], answers: IO[bytes]) -> None:
    done: list[Written | str] = []
    while True:
        try:
            kind, payload = pickle.load(requests)  # noqa: S301 - from the parent, on its pipe
        except EOFError:
            return
        if kind == "write":
            for path, data, how in payload:
                if os.getppid() != parent:
                    return  # the run was killed: write nothing more behind its back
                try:
                    raw = data if isinstance(data, bytes) else render(data)
                    if isinstance(how, str):
                        stat = insert_line(path, raw, how, durable=False)
                    else:
                        stat = write_atomic(path, raw, durable=False, new=how)
                    done.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
                except Exception as exc:  # each file answers for itself, whatever went wrong
                    done.append(str(exc) or type(exc).__name__)
        elif kind == "end":
            if payload:
                with contextlib.suppress(OSError):
                    sync_all()
            pickle.dump(done, answers, protocol=pickle.HIGHEST_PROTOCOL)
            answers.flush()
            done = []


def helper_main(serve: Callable[..., None], *args: Any) -> None:
    """Run a helper process's loop. Ctrl-C reaches the whole process group: the run decides
    what stops (it ends the helper's input, and the helper finishes what it was sent), so the
    helper ignores it rather than print a traceback of its own; a run that is gone mid-answer
    (a broken pipe) ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):
        serve(*args)


if __name__ == "__main__":
    helper_main(serve, int(sys.argv[1]), sys.stdin.buffer, sys.stdout.buffer)
