"""The state machine's person's decisions (tests/sync/proof_machine.py has its edits, runs and
invariants): `undo RUN` (with --dry-run; killed with SIGKILL on a file folder, then undone
again), `resolve RUN|PERSON --take crm|outlook`, `link PERSON ITEM` and `unlink` (as the CLI
allows them), each checked on the spot and then by the machine's invariants after every step.

- **undo** of a random earlier run (killed or not, undone already or not): a run undone already
  is said to be so ("already undone") and nothing changes, no run is made; a dry run changes
  nothing; otherwise every write the run made (a contact or Person it created, updated or
  deleted) is taken back where nobody changed the item since, every item the undo changed is in
  its journal, and a second undo of the same run does nothing. The next clean sync then holds
  the run's invariants, with the baselines the undone run's settled conflicts had before it: an
  undone conflict write is named again, never overwritten silently.
- **resolve** of listed conflicts: afterwards each field it settles agrees on both sides with the
  taken side's value (a rule "fill only if empty" or "never blank out" overridden, and named so),
  and the next sync neither names it nor plans a write of it. A field whose direction rule bars
  the side taken is never written on that side: a conflict of it stays as it was, named refused
  (every field of a run refused: a usage error, nothing written, no run).
- **link / unlink** of a random Person and contact: nothing duplicated (the machine's invariant),
  also after the runs that follow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule
from proof_machine import CHUNK, MODES, RULES, VALUES, Proof, Run, State, email_set, opened
from sqlalchemy import func, select

import killed_run
from personsync.errors import MassChangeRefused, UsageError
from personsync.fields import FIELD_NAMES
from personsync.model import Contact, Value, same
from personsync.persons.repo import PersonsDB
from personsync.stores.base import read_all
from personsync.sync import manual
from personsync.sync.journal import entries, get_run, undone_by
from personsync.sync.links import set_ignored
from personsync.sync.merge import DEFAULT_RULE, EMAILS, FieldRule
from personsync.sync.options import RunOptions
from personsync.sync.report import UNSETTLED
from personsync.sync.resolve import resolve
from personsync.sync.settings import load_settings
from personsync.sync.tables import sync_journal, sync_runs
from personsync.sync.undo import undo
from personsync.sync.values import loads, record_from_dict

# How often each decision ran and what it did, over every example of the process (the long
# profile prints it: a rule that never bites proves nothing).
TALLY: Counter[str] = Counter()
Key = tuple[str, Any]  # ("contact", item id) or ("person", Person id)


class Decisions(Proof):
    # --- undo ----------------------------------------------------------------------------------
    @rule(
        back=st.integers(0, 6),
        dry=st.booleans(),
        kill=st.none() | st.integers(1, 4),
        then_sync=st.booleans(),
    )
    def undo_run(self, back: int, dry: bool, kill: int | None, then_sync: bool) -> None:
        """`undo` of the `back`-th latest run (not an undo) of the folder."""
        runs = self._runs_of_folder()
        TALLY["undo rule"] += 1
        wrote = self._runs_that_wrote()  # an undo of a run that wrote nothing proves little
        targets = [r for r, command in runs if command != "undo" and r in wrote]
        if not targets:
            return
        target = targets[-1 - back % len(targets)]
        latest = runs[-1][0] == target  # nothing ran since: its baselines are the links'
        self.new_runs()
        earlier = undone_by(self.db.engine, [target]).get(target)
        if dry or earlier is not None:
            self._undo_does_nothing(target, dry=dry, said=earlier is not None)
            return
        before = self.state()
        expected = self._undo_expected(target, before)
        if kill is not None and self.killable:
            options = RunOptions(yes=True, chunk=CHUNK, crash_after=kill)
            if not killed_run.undo_killed(self.db, self.db_url, target, options):
                # It finished before its kill point: the undo is made, the check below says so.
                runs = self.new_runs()
                self._undo_does_nothing(target, dry=False, said=True)
                return self._undone(target, before, expected, latest, then_sync, runs)
            self.nothing_duplicated()  # even half-way
        report = undo(self.db, target, options=RunOptions(yes=True, chunk=CHUNK))
        assert not report.errors, report.errors
        assert report.counts.get("would-undo", 0) == 0, report.counts
        TALLY["undo: entries undone"] += report.counts.get("undone", 0)
        TALLY["undo: entries not undone"] += report.counts.get("not-undone", 0)
        self._undone(target, before, expected, latest, then_sync)

    def _undone(
        self,
        target: str,
        before: State,
        expected: dict[Key, Callable[[State], bool]],
        latest: bool,
        then_sync: bool,
        runs: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """The checks after an undo of `target` (`runs`: the undo's, when taken already)."""
        after = self.state()
        TALLY[
            "undo: changed something"
            if self._changed_items(before, after)
            else "undo: changed nothing"
        ] += 1
        for key, back in expected.items():
            assert back(after), f"undo of {target}: {key} not put back, nobody changed it since"
        undo_runs = self.new_runs() if runs is None else {**runs, **self.new_runs()}
        self._undo_journaled(before, after, undo_runs)
        # Its own changes journaled: a second undo of the same run says so and does nothing.
        self._undo_does_nothing(target, dry=False, said=True)
        if then_sync:
            bases = self._agreed_before(target, before) if latest else None
            self._runs(Run("sync"), kill_at=None, bases=bases)

    def _undo_does_nothing(self, target: str, *, dry: bool, said: bool) -> None:
        """An undo of `target` (a dry run, or of a run undone already) changes nothing."""
        before, rows = self.state(), self._journal_rows()
        report = undo(self.db, target, options=RunOptions(dry_run=dry, yes=True))
        if said:
            assert any("already undone" in w for w in report.warnings), report.warnings
            TALLY["undo: already undone said"] += 1
        else:
            TALLY["undo: dry run"] += 1
        assert not self._changed_items(before, self.state()), f"undo {target} changed something"
        assert self._journal_rows() == rows, "a dry or repeated undo wrote to the journal"
        assert not self.new_runs(), "a dry or repeated undo made a run"

    def _undo_expected(self, target: str, now: State) -> dict[Key, Callable[[State], bool]]:
        """What an undo of `target` must give back, from its journal: each item it wrote once
        (created, updated, deleted) and nobody changed since, with a check of it afterwards."""
        es = [e for e in entries(self.db.engine, target) if e["state"] == "done"]
        command = get_run(self.db.engine, target).command
        by_key: dict[Key, list[dict[str, Any]]] = {}
        for e in es:
            if e["side"] == "contact":
                key: Key = ("contact", str((e["after"] or {}).get("item_id") or e["item_id"]))
            else:
                key = ("person", (e["after"] or {}).get("person_id", e["person_id"]))
            by_key.setdefault(key, []).append(e)
        versions = self._contact_versions()
        kept = self._kept_pairs(es, now)
        out: dict[Key, Callable[[State], bool]] = {}
        for key, group in by_key.items():
            if len(group) != 1:
                continue  # written twice in one run: undone newest first, checked by the rest
            (e,) = group
            after, before = e["after"] or {}, e["before"] or {}
            if e["person_id"] in kept and (e["side"], e["action"]) in WHOLE:
                # A pair the run made, one side edited since: undo never splits it (kept whole).
                out[key] = _as_now(key, now)
                TALLY["undo: a pair kept whole"] += 1
                continue
            if key[0] == "contact":
                iid = key[1]
                unchanged = versions.get(iid) == after.get("version")
                if e["action"] == "create" and unchanged:
                    out[key] = _gone("contacts", iid)
                elif e["action"] == "update" and unchanged:
                    cid, was = str(before.get("customer_id") or ""), now.contacts[iid]
                    elsewhere = any(
                        c.customer_id == cid for i, c in now.contacts.items() if i != iid
                    )
                    if cid and cid != was.customer_id and elsewhere and command == "unlink":
                        # Another contact carries that Customer ID now: given back, the Person
                        # would have two. Undo leaves it, and says so.
                        out[key] = lambda s, i=iid, c=was: s.contacts.get(i) == c
                    else:
                        out[key] = self._contact_back(iid, before)
                elif e["action"] == "delete" and iid not in now.contacts:
                    cid = str(before.get("customer_id") or "")
                    if cid and not any(c.customer_id == cid for c in now.contacts.values()):
                        out[key] = _carried(cid)
            else:
                pid = key[1]
                person = now.persons.get(pid)
                unchanged = person is not None and person.version == after.get("version")
                if e["action"] == "create" and unchanged:
                    out[key] = _gone("persons", pid)
                elif e["action"] == "update" and unchanged:
                    out[key] = self._person_back(pid, before.get("changes", {}))
                elif e["action"] == "delete" and person is None:
                    out[key] = _there(pid)
        return out

    @staticmethod
    def _kept_pairs(es: list[dict[str, Any]], now: State) -> set[int]:
        """The Persons `es` (a run's done entries) created of a contact whose Customer ID the
        run wrote back, where either side is there and edited since: undo keeps both sides."""
        made = {
            (e["after"] or {}).get("person_id", e["person_id"]): (e["after"] or {}).get("version")
            for e in es
            if e["side"] == "person" and e["action"] == "create"
        }
        kept: set[int] = set()
        for e in es:
            pid = e["person_id"]
            if e["side"] != "contact" or e["action"] != "update" or pid not in made:
                continue
            iid = str((e["after"] or {}).get("item_id") or e["item_id"])
            person = now.persons.get(pid)
            contact = now.contacts.get(iid)
            if contact is not None and contact.version != (e["after"] or {}).get("version"):
                if contact.customer_id == str(pid):
                    kept.add(pid)  # the contact edited since, still carrying the Customer ID
            elif contact is not None and person is not None and person.version != made[pid]:
                kept.add(pid)  # the Person edited since
        return kept

    def _contact_back(self, iid: str, before: dict[str, Any]) -> Callable[[State], bool]:
        def back(s: State) -> bool:
            c = s.contacts.get(iid)
            if c is None or c.customer_id != before.get("customer_id", ""):
                return False
            if before.get("record") is None:
                return True  # a Customer ID write: the record was not the run's
            old = record_from_dict(before["record"])
            return not self._changed(old, c.record)

        return back

    def _person_back(self, pid: int, changes: dict[str, Any]) -> Callable[[State], bool]:
        old = record_from_dict({k: v for k, v in changes.items() if v is not None})

        def back(s: State) -> bool:
            p = s.persons.get(pid)
            return p is not None and all(
                same(k, getattr(p.record, k), getattr(old, k)) for k in changes
            )

        return back

    def _undo_journaled(self, before: State, after: State, runs: dict[str, dict[str, Any]]) -> None:
        """Every item the undo changed has an entry in the undo's journal."""
        journal = [e for r in runs.values() for e in r["journal"]]
        contacts = {e.item_id for e in journal if e.side == "contact"}
        contacts |= {
            str((loads(e.before) or {}).get("item_id") or "") for e in journal
        }  # a re-created contact: its new id is the entry's outcome, the old one its item
        persons = {e.person_id for e in journal if e.side == "person"}
        made = set(after.contacts) - set(before.contacts)
        for iid in set(before.contacts) | set(after.contacts):
            if before.contacts.get(iid) != after.contacts.get(iid) and iid not in made:
                assert iid in contacts, f"undo changed contact {iid}, not journaled"
        if made:
            creates = [e for e in journal if e.side == "contact" and e.action == "create"]
            assert len(creates) >= len(made), f"undo made contacts {made}, journaled {creates}"
        for pid in set(before.persons) | set(after.persons):
            was, now = before.persons.get(pid), after.persons.get(pid)
            if (was and was.record) != (now and now.record):  # its hidden link aside
                assert pid in persons, f"undo changed Person {pid}, not journaled"

    def _agreed_before(self, target: str, now: State) -> dict[int, dict[str, Value]]:
        """The baselines, before `target`, of the conflicts it settled whose write the undo took
        back (the side it wrote is as it was before): what the next sync must compare with."""
        bases = self.bases_before.get(target, {})
        out: dict[int, dict[str, Value]] = {}
        with self.db.engine.connect() as conn:
            problems = conn.execute(
                select(sync_runs.c.problems).where(sync_runs.c.id == target)
            ).scalar()
        for c in loads(problems) or []:
            if c.get("kind") != "conflict" or c.get("kept") == UNSETTLED:
                continue
            pid = c["person_id"]
            if pid not in bases or pid not in now.baselines:
                continue
            group = EMAILS if c["field"] in EMAILS else (c["field"],)
            out.setdefault(pid, {}).update({f: getattr(bases[pid], f) for f in group})
        return out

    # --- resolve -------------------------------------------------------------------------------
    @rule(
        pick=st.integers(0, 50),
        take=st.sampled_from(["crm", "outlook"]),
        by_run=st.booleans(),
        field=st.sampled_from(sorted(VALUES)),
        data=st.data(),
        rule_=st.none() | RULES,
        fresh=st.booleans(),
    )
    def resolve_conflicts(
        self,
        pick: int,
        take: str,
        by_run: bool,
        field: str,
        data: st.DataObject,
        rule_: FieldRule | None,
        fresh: bool,
    ) -> None:
        """`resolve RUN|PERSON --take crm|outlook` of a conflict a run listed (with none listed,
        a pair edited on both sides and a plain sync list one first: rare by chance alone; so
        too when `fresh`, and one of what that sync listed is taken, as the old listings go
        stale); with `rule_`, the listed field's rule changed first (as a person may, issue 12:
        the choice overrides its guards, a direction refuses it; rare by chance alone too)."""
        TALLY["resolve rule"] += 1
        listed = self._listed()
        if not listed or fresh:
            self.edit_both_sides(pick, field, data)
            self._runs(Run("sync"), kill_at=None)
            old, listed = listed, self._listed()
            listed = [c for c in listed if c not in old] or listed
        if not listed:
            return
        TALLY["resolve: conflicts listed"] += 1
        run_id, pid, chosen = listed[pick % len(listed)]
        if rule_ is not None:
            self.set_field_rule(chosen, rule_)
            TALLY["resolve: rule changed after the listing"] += 1
        if by_run:
            scope = {(p, f) for r, p, f in listed if r == run_id}
            persons, fields = {p for p, _ in scope}, {f for _, f in scope}
        else:
            persons, fields = {pid}, set()
        self.new_runs()
        before = self.state()
        open_ = self._open_conflicts(persons, fields)
        rules = load_settings(self.db.engine, self.folder).rules
        into_crm = take == "outlook"
        # The fields whose direction bars the side taken: never written on that side; a
        # conflict of one is refused by name (a field not synced only when named by a run).
        barred = {
            f
            for f in FIELD_NAMES
            if rules.get(f, DEFAULT_RULE).bars(into_crm) and (by_run or rules[f].flow != "none")
        }
        try:
            outcome = resolve(self.db, run_id if by_run else str(pid), take, folder=self.folder)
        except MassChangeRefused:
            return  # an emptied side: nothing propagated
        except UsageError:
            # Every field the run listed is barred: said at once, nothing written, no run.
            assert by_run and fields <= barred, f"resolve refused {sorted(fields)}"
            assert not self._changed_items(before, self.state()), "a refused resolve wrote"
            assert not self.new_runs(), "a refused resolve made a run"
            TALLY["resolve: refused whole, by a direction"] += 1
            return
        report = outcome.report
        assert report is not None
        assert not report.errors, report.errors
        after = self.state()
        self.bases_before.update(dict.fromkeys(self.new_runs(), before.baselines))
        TALLY["resolve: runs"] += 1
        # A Person unlinked (or whose contact went) since its conflict was listed: resolve
        # names it and writes nothing of it (Plan.settling), never a second contact.
        unpaired = {p for p in persons if before.links.get(p) not in before.contacts}
        for p in unpaired:
            TALLY["resolve: unpaired Person named"] += 1
            assert before.persons.get(p) == after.persons.get(p), f"Person {p} written"
            assert after.links.get(p) == before.links.get(p), f"Person {p} linked by resolve"
        assert {c.customer_id for c in after.contacts.values()} <= {
            c.customer_id for c in before.contacts.values()
        }, "resolve gave a contact a new Customer ID"
        open_ = {(p, f) for p, f in open_ if p not in unpaired}
        TALLY["resolve: fields settled"] += len(open_)
        named = {(c["person_id"], c["field"]): c for c in report.conflicts}
        refused: set[tuple[int, str]] = set()
        for p, field in open_:
            person, contact = after.persons.get(p), after.contacts.get(after.links.get(p, ""))
            assert person is not None and contact is not None, f"Person {p}'s pair gone"
            crm, outlook = before.persons[p].record, before.contacts[before.links[p]].record
            was = crm if take == "crm" else outlook
            met = named.get((p, field), {}).get("rule")
            if field in barred:
                # A decision of a field its direction bars the side taken (a guard refused
                # its owner's write): refused, named with the rule (_barred_kept: unchanged).
                refused.add((p, field))
                if field not in EMAILS:  # a slot of the merged group: the group decides
                    entry = named.get((p, field), {})
                    assert entry.get("kept") == UNSETTLED, (p, field, entry)
                    assert met == rules[field].flow, (p, field, entry)
                    TALLY["resolve: a decision refused by a direction, named"] += 1
                continue
            if met:
                # A guard of automatic flows (fill only if empty, never blank out) gave way to
                # the choice, and the report says so.
                assert met in ("fill only if empty", "never blank out"), (p, field, met)
                TALLY[f"resolve: rule '{met}' overridden"] += 1
            for f in EMAILS if field in EMAILS else (field,):
                c, o = getattr(person.record, f), getattr(contact.record, f)
                if f in EMAILS:
                    assert (
                        email_set(person.record) == email_set(contact.record) == email_set(was)
                    ), f"resolve --take {take}: Person {p}'s e-mails {c!r} / {o!r}"
                else:
                    assert same(f, c, getattr(was, f)) and same(f, o, getattr(was, f)), (
                        f"resolve --take {take}: Person {p}'s {f} is {c!r} / {o!r}, "
                        f"{take} had {getattr(was, f)!r}"
                    )
        self._barred_kept(before, after, persons, fields or barred, barred, take, named)
        still = self._open_conflicts(persons, fields, named=True) & (open_ - refused)
        assert not still, f"resolved, still named: {sorted(still)}"

    def _barred_kept(
        self,
        before: State,
        after: State,
        persons: set[int],
        fields: set[str],
        barred: set[str],
        take: str,
        named: dict[tuple[Any, Any], dict[str, Any]],
    ) -> None:
        """A direction rule is never overridden: the side it bars keeps each barred field of
        the Persons resolved; a conflict of one (changed on both sides) stays as it was and is
        named with the rule; a field the report names refused is as it was on both sides."""
        for p in persons:
            link = before.links.get(p)
            if p not in after.persons or link is None or link not in after.contacts:
                continue
            sides = {
                "crm": (before.persons[p].record, after.persons[p].record),
                "outlook": (before.contacts[link].record, after.contacts[link].record),
            }
            kept_side = sides["crm" if take == "outlook" else "outlook"]
            base = before.baselines.get(p)
            for f in barred & fields:
                if f in self.unsupported:
                    continue
                assert same(f, getattr(kept_side[0], f), getattr(kept_side[1], f)), (
                    f"resolve --take {take} wrote Person {p}'s {f} against its direction rule"
                )
                c, o = (getattr(sides[s][0], f) for s in ("crm", "outlook"))
                both = base is not None and not (
                    same(f, c, getattr(base, f)) or same(f, o, getattr(base, f)) or same(f, c, o)
                )
                if both and f not in EMAILS:
                    entry = named.get((p, f), {})
                    assert entry.get("kept") == UNSETTLED and entry.get("rule"), (
                        f"resolve --take {take}: Person {p}'s {f} refused, not named: {entry}"
                    )
                    TALLY["resolve: refused by a direction, named"] += 1
        for (p, f), entry in named.items():
            if entry.get("rule") in ("to-outlook", "to-crm", "none"):
                assert f in barred, f"{f} named refused by {entry['rule']}, take {take}"
                link = before.links[p]
                pairs = (
                    (before.persons[p].record, after.persons[p].record),
                    (before.contacts[link].record, after.contacts[link].record),
                )
                assert all(same(f, getattr(b, f), getattr(a, f)) for b, a in pairs), (
                    f"Person {p}'s {f} refused, yet written"
                )

    def _listed(self) -> list[tuple[str, int, str]]:
        """(run, Person, field) of every conflict a run of the folder listed as a decision."""
        t = sync_runs
        query = select(t.c.id, t.c.problems).where(t.c.folder == self.url)
        with self.db.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.started_at, t.c.id)).all()
        return [
            (run_id, int(p["person_id"]), str(p["field"]))
            for run_id, problems in rows
            for p in loads(problems) or []
            if p.get("kind") == "conflict" and p.get("kept") == UNSETTLED
        ]

    def _open_conflicts(
        self, persons: set[int], fields: set[str], named: bool = False
    ) -> set[tuple[int, str]]:
        """(Person, field) a dry-run sync leaves as decisions (`named`: or names or writes at
        all), of these Persons and (if any) fields."""
        plan = self._dry_sync().plan.only(persons)
        out: set[tuple[int, str]] = set()
        for action, c in plan.conflicts():
            if not c.kept or named:
                out.add((getattr(action, "person_id", 0), c.field))
        if named:
            for action in plan.actions:
                for field, _, _ in getattr(action, "changes", ()):
                    out.add((getattr(action, "person_id", 0), field))
        return {(p, f) for p, f in out if not fields or f in fields}

    def _dry_sync(self) -> Any:
        from proof_machine import run_engine

        return run_engine(self.db, self.folder, Run("sync"), dry_run=True)

    # --- link / unlink -------------------------------------------------------------------------
    @rule(person=st.integers(0, 50), contact=st.integers(0, 50), then=st.none() | MODES)
    def link_pair(self, person: int, contact: int, then: str | None) -> None:
        """`link PERSON ITEM --yes` (the CLI: any Person, any contact), then maybe a run."""
        pid = self._person(person)
        with opened(self.folder) as store:
            found = self._contact(store, contact)
        if pid is None or found is None:
            return
        old = self.state().links.get(pid)
        moves = old not in (None, found.item_id)
        self.new_runs()
        try:
            manual.link(self.db, pid, self.folder, found.item_id, yes=True)
        except UsageError:
            TALLY["link refused"] += 1
            return
        set_ignored(self.db.engine, self.folder, found.item_id, False)
        self.new_runs()
        TALLY["link: moved" if moves else "link"] += 1
        self.nothing_duplicated()
        if moves:  # the Person's link moved: its old contact no longer carries its id
            was = self.state().contacts.get(str(old))
            assert was is None or was.customer_id != str(pid), f"contact {old} kept {pid}"
        if then is not None:
            self._runs(Run(then), kill_at=None)

    @rule(index=st.integers(0, 50), by_item=st.booleans(), ignore=st.booleans())
    def unlink_pair(self, index: int, by_item: bool, ignore: bool) -> None:
        """`unlink --person P` or `unlink --item I [--ignore]` of a linked pair, or of a contact
        that carries a Person's Customer ID without a link (a copy)."""
        with opened(self.folder) as store:
            contact = self._contact(store, index)
        if contact is None:
            return
        state = self.state()
        owner = {item: pid for pid, item in state.links.items()}.get(contact.item_id)
        self.new_runs()
        try:
            if owner is not None and not by_item:
                manual.unlink(self.db, self.folder, person_id=owner)
            elif owner is not None or contact.customer_id.isdigit():
                pid = owner if owner is not None else int(contact.customer_id)
                manual.unlink(self.db, self.folder, person_id=pid, item_id=contact.item_id)
                if ignore:
                    set_ignored(self.db.engine, self.folder, contact.item_id, True)
            else:
                return
        except UsageError:
            return
        self.new_runs()
        self.unlinked[contact.item_id] += 1
        TALLY["unlink"] += 1

    # --- helpers -------------------------------------------------------------------------------
    def _runs_of_folder(self) -> list[tuple[str, str]]:
        t = sync_runs
        query = select(t.c.id, t.c.command).where(t.c.folder == self.url)
        with self.db.engine.connect() as conn:
            return [(r, c) for r, c in conn.execute(query.order_by(t.c.started_at, t.c.id))]

    def _runs_that_wrote(self) -> set[str]:
        j = sync_journal
        with self.db.engine.connect() as conn:
            return {r for (r,) in conn.execute(select(j.c.run_id).distinct()).all()}

    def _journal_rows(self) -> int:
        with self.db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sync_journal)).scalar_one())

    def _contact_versions(self) -> dict[str, str]:
        with opened(self.folder) as store:
            return {c.item_id: c.version for c in read_all(store) if isinstance(c, Contact)}

    @staticmethod
    def _changed_items(before: State, after: State) -> bool:
        return before.persons != after.persons or before.contacts != after.contacts


def _gone(kind: str, key: Any) -> Callable[[State], bool]:
    return lambda s: key not in getattr(s, kind)


# The two entries of a pair a run made: a Person created of a contact, its Customer ID written.
WHOLE = {("person", "create"), ("contact", "update")}


def _as_now(key: Key, now: State) -> Callable[[State], bool]:
    kind, k = key
    if kind == "person":
        return lambda s: s.persons.get(k) == now.persons.get(k)
    return lambda s: s.contacts.get(k) == now.contacts.get(k)


def _there(pid: int) -> Callable[[State], bool]:
    return lambda s: pid in s.persons


def _carried(cid: str) -> Callable[[State], bool]:
    return lambda s: any(x.customer_id == cid for x in s.contacts.values())


def machine(db: PersonsDB, db_url: str, folder: Callable[[], str]) -> Callable[[], Decisions]:
    """A factory of machines on this database, each example on a folder of its own."""

    return lambda: Decisions(db, db_url, folder())
