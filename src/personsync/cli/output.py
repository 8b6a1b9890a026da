"""Where the CLI writes: tables and JSON to stdout, progress, questions and errors to stderr.

Output that goes to a pipe or a log is not wrapped: a folder path or a name stays on one line,
whole, for grep and for people reading the log.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# Wide enough that no line of ours is ever wrapped; Rich tables take only the width they need.
UNWRAPPED = 100_000


class _Lazy:
    """A Rich Console made on first use (importing Rich costs start-up time `--help` need not
    pay), sized for where it writes when each command starts (`reset_consoles`)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False)
            # Rich exits with 1 when the reader of a pipe has gone (`| head -1`): that reader
            # has what it wanted, which is no failure.
            setattr(self._console, "on_broken_pipe", reader_gone)  # noqa: B010
            _fit(self._console)
        return self._console

    def reset(self) -> None:
        self._console = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def reader_gone() -> None:
    """stdout's reader closed the pipe: point stdout at nothing (so the last flush cannot fail
    again) and end the command as done."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def _fit(console: Console) -> None:
    if not console.is_terminal:
        console.width = UNWRAPPED
        console.soft_wrap = True


console: Console = _Lazy(stderr=False)  # type: ignore[assignment]
err: Console = _Lazy(stderr=True)  # type: ignore[assignment]


def real(lazy: Console) -> Console:
    """The Console itself, for Rich objects that hold on to one (a progress bar)."""
    return lazy.get() if isinstance(lazy, _Lazy) else lazy


def reset_consoles() -> None:
    """Each command looks again at where stdout and stderr go (a test runner swaps them)."""
    for lazy in (console, err):
        lazy.reset()  # type: ignore[attr-defined]


def interactive() -> bool:
    """A person is there to answer: stdin and stdout are both a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: Any, indent: int | None = None) -> str:
    """JSON text of `data` as every command writes it (dates ISO, tuples as lists, UTF-8)."""
    return json.dumps(data, default=_default, ensure_ascii=False, indent=indent)


def say_wait(seconds: float, reason: str) -> None:
    """The line a command prints when the folder's service asks it to slow down."""
    err.print(f"[dim]waiting {seconds:.1f} s: {reason}[/dim]")


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colour, no wrapping."""
    sys.stdout.write(to_json(data, indent=2) + "\n")
    sys.stdout.flush()


class Progress:
    """What a progress bar gives a command: `advance(n)`, and `paused()` around a question so
    the bar does not redraw over it."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, n: int = 1, *, total: int | None = None, description: str = "") -> None:
        if total is not None:
            self._bar.update(self._task, total=total)
        if description:
            self._bar.update(self._task, description=description)
        self._bar.advance(self._task, n)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._bar.stop()
        try:
            yield
        finally:
            self._bar.start()


class _Silent(Progress):
    """Progress nobody sees (stderr is a pipe or a log): Rich's bar is not even loaded."""

    def __init__(self) -> None:
        pass

    def __call__(self, n: int = 1, *, total: int | None = None, description: str = "") -> None:
        pass

    @contextmanager
    def paused(self) -> Iterator[None]:
        yield


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Progress]:
    """A Rich progress bar on stderr; yields a `Progress`. Silent when not a terminal."""
    if not sys.stderr.isatty():
        yield _Silent()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=real(err),
        transient=True,
    )
    with bar:
        yield Progress(bar, bar.add_task(description, total=total))
