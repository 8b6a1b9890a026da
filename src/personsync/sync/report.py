"""The run report: what a run did, its status in words and its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personsync.errors import ExitCode


@dataclass
class RunReport:
    run_id: str
    command: str
    folder: str
    view: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)  # a record's write failed
    skipped: list[dict[str, Any]] = field(default_factory=list)  # decisions needed, unreadable
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def status(self) -> str:
        """How the run ended, as the journal keeps it: "clean" (nothing skipped), "done" (done,
        with records skipped or left to decide) or "failed" (some records met errors)."""
        if self.errors:
            return "failed"
        return "done" if self.skipped else "clean"

    @property
    def summary(self) -> str:
        """The status in words: "clean", "done, 1 skipped", "failed, 2 errors, 1 skipped"."""
        parts = [f"{len(self.errors)} error{'s' * (len(self.errors) != 1)}"] if self.errors else []
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join([self.status, *parts])

    @property
    def exit_code(self) -> int:
        if self.errors:
            return ExitCode.FAILED
        return ExitCode.SKIPPED if self.skipped else ExitCode.CLEAN

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def problems(self) -> list[dict[str, Any]]:
        return [{"kind": "error", **e} for e in self.errors] + [
            {"kind": "skipped", **s} for s in self.skipped
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "command": self.command,
            "folder": self.folder,
            "view": self.view,
            "status": self.status,
            "summary": self.summary,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "errors": self.errors,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "duration_s": round(self.duration, 3),
        }
