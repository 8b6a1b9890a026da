"""The run report: what a run did, its status in words and its exit code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from personsync.errors import ExitCode

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
        """How the run ended, as the journal keeps it: "clean" (nothing skipped), "done" (done,
        with records skipped or left to decide) or "failed" (some records met errors)."""
        if self.errors:
            return "failed"
        return "done" if self.skipped or self.decisions() else "clean"

    @property
    def summary(self) -> str:
        """The status in words: "clean", "done, 1 skipped", "failed, 2 errors, 1 skipped"."""
        parts = [f"{len(self.errors)} error{'s' * (len(self.errors) != 1)}"] if self.errors else []
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.decisions():
            parts.append(f"{len(self.decisions())} conflicts to decide")
        return ", ".join([self.status, *parts])

    @property
    def exit_code(self) -> int:
        if self.errors:
            return ExitCode.FAILED
        return ExitCode.SKIPPED if self.skipped or self.decisions() else ExitCode.CLEAN

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
            "summary": self.summary,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "errors": self.errors,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "duration_s": round(self.duration, 3),
        }


FLOW_WORDS = {
    "to-outlook": ("flows to Outlook only", "take crm, or "),
    "to-crm": ("flows to the CRM only", "take outlook, or "),
    "none": ("is not synced", ""),
}


def refusal(name: str, flow: str, folder: str) -> str:
    """Why resolve refuses field `name`, whose direction rule bars the side taken, and the way
    out."""
    words, other = FLOW_WORDS[flow]
    return (
        f"{name} {words} (personsync rules show {folder}): {other}change the rule with "
        f"personsync rules set {folder} {name} --direction both"
    )


def rule_note(conflict: Mapping[str, Any], folder: str) -> str:
    """What a person's choice met (a conflict's "rule", see merge.Conflict), in words: a guard
    it overrode or the direction that refused it; "" when it met no rule."""
    rule = str(conflict.get("rule") or "")
    if not rule:
        return ""
    name = str(conflict["field"])
    if rule in FLOW_WORDS:
        return refusal(name, rule, folder)
    return f"{name}: rule '{rule}' overridden by your choice"
