"""The run report, and the exit codes that say how a run ended (the one place they live)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Exit codes of export, import, undo, demo and wizard (documented in --help and docs/sync.md).
EXIT_CLEAN = 0  # everything done, nothing skipped
EXIT_FAILED = 1  # the run failed, or some records met errors
EXIT_USAGE = 2  # the command was given wrongly
EXIT_GUARD = 3  # stopped by the mass-change guard: nothing written
EXIT_SKIPPED = 4  # done, but some records were skipped or need a decision
EXIT_LEASE = 5  # another run holds the folder's lease: nothing read or written (errors.LeaseHeld)

EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 failed or records with errors; 2 usage error; "
    "3 stopped by the mass-change guard (nothing written); "
    "4 done with skipped records or decisions needed; "
    "5 another run is working on the folder (nothing done; see --wait)."
)


UNSETTLED = "both (a decision)"  # a conflict's `kept` when the run left both values


@dataclass
class RunReport:
    run_id: str
    command: str
    folder: str
    view: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)  # a record's write failed
    skipped: list[dict[str, Any]] = field(default_factory=list)  # decisions needed, unreadable
    # Fields named by the three-way plan (sync/merge.py): overwritten edits and conflicts, with
    # both values and which one was kept ("both (a decision)": left as they are).
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0

    def decisions(self) -> list[dict[str, Any]]:
        """The conflicts left as they are, for a person to settle."""
        return [c for c in self.conflicts if c["kept"] == UNSETTLED]

    @property
    def status(self) -> str:
        if self.errors:
            return "failed"
        return "skipped" if self.skipped or self.decisions() else "clean"

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_FAILED
        return EXIT_SKIPPED if self.skipped or self.decisions() else EXIT_CLEAN

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def problems(self) -> list[dict[str, Any]]:
        return (
            [{"kind": "error", **e} for e in self.errors]
            + [{"kind": "skipped", **s} for s in self.skipped]
            + [{"kind": "conflict", **c} for c in self.conflicts]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "command": self.command,
            "folder": self.folder,
            "view": self.view,
            "status": self.status,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "errors": self.errors,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "duration_s": round(self.duration, 3),
        }
