"""`personsync resolve`: settle the conflicts a run left as decisions.

A conflict left as it is (policy `skip`) keeps both values and the old baseline, so every run
names it again until it is settled. Resolving runs the pairs concerned two-way, only for the
conflicted fields (every other field is left alone, whatever the folder's mode), with the chosen
side's value: the other side gets it, journaled like any write, undoable, under the folder's
lease. A Person's id without --field settles all of that pair's conflicts and syncs the pair.

The side taken is the person's explicit choice for a conflict of one pair (a field changed on
both sides, or an edit the field's owner would put back, see `merge._by_choice`): it overrides
the folder's guards of automatic flows for that field of that pair, "fill only if empty" and
"never blank out" (the report names the rule it overrode), so that the next sync plans nothing
for it. A field whose direction bars the side to be written (to Outlook
only, to the CRM only, not synced) is refused: named with the rule and the way out, while the
other fields are settled; the conflict stays a decision (exit code 4). When every field named
is refused, nothing runs: a UsageError says why.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from personsync.errors import UsageError
from personsync.fields import require_fields
from personsync.sync import engine
from personsync.sync.events import OnEvent
from personsync.sync.journal import get_run
from personsync.sync.merge import DEFAULT_RULE, policy
from personsync.sync.options import RunOptions
from personsync.sync.policies import Policy
from personsync.sync.report import UNSETTLED, refusal
from personsync.sync.settings import load_settings

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide


def resolve(
    db: PersonsSide,
    target: str,
    take: str,
    *,
    fields: Collection[str] = (),
    folder: str | None = None,
    dry_run: bool = False,
    wait: float = 0.0,
    on_event: OnEvent | None = None,
) -> engine.Outcome:
    """Settle the undecided conflicts of run `target` (or of Person `target` in `folder`) with
    `take`'s values (crm or outlook), only for `fields` when given. `on_event` hears the run's
    events, as `engine.run`'s do (the folder's waits among them)."""
    side = policy(take)
    if side not in ("crm", "outlook"):
        raise UsageError(f"--take {take}: take crm or outlook")
    require_fields(fields)
    if target.isdigit():
        if not folder:
            raise UsageError("a Person's conflicts need --folder", hint="or give the run's id")
        persons = {int(target)}
        named = set(fields)
    else:
        info = get_run(db.engine, target)
        folder = info.folder
        open_ = [
            p
            for p in info.problems
            if p.get("kind") == "conflict"
            and p.get("kept") == UNSETTLED
            and (not fields or p.get("field") in fields)
        ]
        if not open_:
            raise UsageError(f"run {target} left no conflict to resolve" + _which(fields))
        persons = {int(p["person_id"]) for p in open_}
        named = {str(p["field"]) for p in open_}
    rules = load_settings(db.engine, folder).rules
    barred = [f for f in sorted(named) if rules.get(f, DEFAULT_RULE).bars(side == "outlook")]
    if named and len(barred) == len(named):
        # Nothing else to settle: said at once, no run made.
        raise UsageError(
            "; ".join(refusal(f, rules[f].flow, folder) for f in barred),
            hint="resolve would write nothing",
        )
    chosen: dict[str, Policy] = dict.fromkeys(named, side)
    options = RunOptions(
        dry_run=dry_run,
        yes=True,  # a few named pairs, chosen by a person
        on_conflict=None if named else side,
        explicit_choice=True,
        field_policies=chosen,
        only_persons=frozenset(persons),
        only_fields=frozenset(named),
        wait=wait,
    )
    return engine.run(db, folder, "sync", options=options, on_event=on_event)


def _which(fields: Collection[str]) -> str:
    return f" in {', '.join(sorted(fields))}" if fields else ""
