"""The one error tree of personsync.

Every error a user can cause or meet is a `PersonsyncError`; foreign errors (SQLAlchemy, httpx,
msal, OS errors) are translated into these at the edge where they happen, so the shells (CLI, web)
have one place each that turns an error into advice (`personsync.cli.root.GuardedGroup`).

`hint` is the one-sentence fix a person can act on; `detail` is what `--verbose` adds.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How a command ended: the one table of exit codes (README and every --help quote it)."""

    CLEAN = 0  # everything done, nothing skipped
    FAILED = 1  # the command failed, or some records met errors
    USAGE = 2  # the command was given wrongly: unknown view, run, option, filter
    GUARD = 3  # stopped by the mass-change guard, or a question nobody can answer: nothing written
    SKIPPED = 4  # done, but some records were skipped or need a decision
    LEASE = 5  # another run holds the folder's lease: nothing read or written (LeaseHeld)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 failed or records with errors; 2 usage error (unknown view, run or "
    "filter); 3 stopped by the mass-change guard (nothing written); 4 done with skipped records "
    "or decisions needed; 5 another run is working on the folder (nothing done; see --wait); "
    "130 interrupted (Ctrl-C)."
)


class PersonsyncError(Exception):
    """Base of every error personsync reports to a person."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class UsageError(PersonsyncError):
    """The command was asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE


class ChangeNotConfirmed(UsageError):
    """A command would change more than it names (`link` moving a Person's link off another
    contact): refused until a person says yes. Shells ask it as a question, then say yes."""


class ConfigError(PersonsyncError):
    """Configuration or environment is missing or wrong."""


# --- Persons database ---------------------------------------------------------------------------


class DatabaseError(PersonsyncError):
    """The Persons database could not be reached or used."""


class ValueRefused(DatabaseError):
    """The Persons database refused a write by a rule of its own (a constraint, a trigger): the
    Persons it names are left as they were; other records proceed."""


class PersonNotFound(PersonsyncError):
    """No Person with that id."""


class ViewError(PersonsyncError):
    """A view is missing, or its filter or sort is malformed: the command was given wrongly."""

    exit_code = ExitCode.USAGE


class FilterSyntaxError(ViewError):
    """A filter expression is malformed or names an unknown field; `position` is 0-based."""

    def __init__(self, message: str, *, expression: str, position: int, hint: str = "") -> None:
        pointer = f"{expression}\n{' ' * position}^"
        super().__init__(f"{message} (at position {position + 1})", hint=hint, detail=pointer)
        self.expression = expression
        self.position = position


# --- Contact formats and folders ----------------------------------------------------------------


class FormatError(PersonsyncError):
    """Bytes that are not a valid card or row. `source` names the file, `line` is 1-based."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        line: int | None = None,
        name: str = "",
        hint: str = "",
    ) -> None:
        where = source
        if line is not None:
            where = f"{where}, line {line}" if where else f"line {line}"
        who = f" ({name})" if name else ""
        full = f"{where}{who}: {message}" if where or who else message
        super().__init__(full, hint=hint)
        self.source = source
        self.line = line
        self.name = name
        self.reason = message


class StoreError(PersonsyncError):
    """A contact folder could not be read or written."""


class FolderNotFound(StoreError):
    """The contact folder does not exist (and was not asked to be created)."""


class ItemNotFound(StoreError):
    """No contact with that id in the folder."""


class ConflictError(StoreError):
    """The contact changed in its folder since it was read: its version no longer matches."""


class CapabilityError(StoreError):
    """The folder cannot do this (it is read-only, or cannot delete)."""


class UnsupportedFolderError(UsageError):
    """A folder URL with a scheme personsync does not know."""


class AuthError(StoreError):
    """Signing in to a contact service failed or is needed."""


class ThrottledError(StoreError):
    """The service kept refusing for too many requests, past every retry."""


class UncertainOutcome(StoreError):
    """A write whose answer was lost (timeout, dropped connection): it may have happened."""


# --- Sync ---------------------------------------------------------------------------------------


class SyncError(PersonsyncError):
    """A sync run could not proceed."""


class MassChangeRefused(SyncError):
    """A run would change more than the allowed share of a folder or of the Persons table."""

    exit_code = ExitCode.GUARD


class LeaseHeld(SyncError):
    """Another run holds the contact folder's lease (one run at a time per folder)."""

    exit_code = ExitCode.LEASE


class RunNotFound(SyncError):
    """No run with that id in the journal: the command was given wrongly."""

    exit_code = ExitCode.USAGE


# --- Sync profiles ------------------------------------------------------------------------------


class ProfileError(UsageError):
    """A sync profile is missing, or one of its settings is wrong; `field` names that setting
    (the web console shows the message beside it)."""

    def __init__(self, message: str, *, field: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field
