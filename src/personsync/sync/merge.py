"""Three-way, per field: a linked pair's CRM values (c) and Outlook values (o) against the values
both sides last agreed on (the link's baseline, b). Pure: the planner calls it per pair.

The decision table (docs/sync.md, "Field level") in code, one branch per case:

- c = o: in step, nothing to do;
- o = b ≠ c: changed in the CRM → flows to Outlook (export, sync); an import would revert it;
- c = b ≠ o: changed in Outlook → flows to the CRM (import, sync); an export would revert it;
- c ≠ b, o ≠ b: changed on both sides → a **conflict** for this field only;
- no baseline (first pairing): export takes c, import takes o; sync fills the empty side, and two
  different non-empty values are a conflict.

A revert (one-way mode against an edit on its target) and a conflict are both named as a
`Conflict` with both values, settled by the policy: `crm`, `outlook`, or left as they are
(`skip`; `newest` too, as no contact store here records when a field changed). The mode's default
is its source (export: crm, import: outlook), or `skip` for two-way sync: never guessed.
A one-way run cannot write its source, so "keep the target's value" leaves the field as it is.
A field left as it is keeps its old baseline and the pair's link is marked unsettled, so the next
run reads the pair again and decides the same.

In two-way sync, e-mail addresses and categories merge as sets:
`(c ∪ o) − ((b − c) ∪ (b − o))`, in Outlook's slot order first; more addresses than Outlook's
three slots are not merged but handled field by field (and named).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from personsync.fields import FIELDS
from personsync.model import Record, Value, diff, is_empty, normalise, same
from personsync.sync.policies import POLICIES, ContactDeleted, PersonRemoved, Policy, named
from personsync.sync.report import UNSETTLED
from personsync.sync.values import value_to_json

Mode = Literal["export", "import", "sync"]
Flow = Literal["both", "to-outlook", "to-crm", "none"]
FLOWS: tuple[Flow, ...] = ("both", "to-outlook", "to-crm", "none")
EMAILS = ("email1", "email2", "email3")
DEFAULT_POLICY: dict[Mode, Policy] = {"export": "crm", "import": "outlook", "sync": "skip"}


def policy(name: str | None) -> Policy | None:
    """A policy by name (None stays None: the mode's default)."""
    return named(name, POLICIES, "conflict policy")


# "Never blank out" is on by default for these fields on the way into the CRM (issue 12).
NEVER_BLANK_INTO_CRM = frozenset(
    {"company", *EMAILS, *(f.name for f in FIELDS if f.kind == "phone")}
)


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A folder's rule for one field (`personsync rules`): which way it flows; whether an
    emptied value may erase the other side's ("never blank out"; None: the default, on for
    company, e-mails and phones into the CRM); whether it only fills an empty value."""

    flow: Flow = "both"
    never_blank: bool | None = None
    fill_only_if_empty: bool = False

    def refuses(self, name: str, to_crm: bool, new: Value, old: Value) -> bool:
        """Whether the arrow writing `new` over `old` (into the CRM or into Outlook) is barred."""
        return self.bars(to_crm) or bool(self.guard(name, to_crm, new, old))

    def bars(self, to_crm: bool) -> bool:
        """Whether the field's direction forbids any write into the CRM (or into Outlook)."""
        return self.flow == "none" or self.flow == ("to-outlook" if to_crm else "to-crm")

    def guard(self, name: str, to_crm: bool, new: Value, old: Value) -> str:
        """The guard of automatic flows that bars writing `new` over `old`, in the user's words
        ("never blank out", "fill only if empty"), or "". A person's choice overrides these
        (`personsync resolve`), never the direction (`bars`)."""
        never_blank = self.never_blank
        if never_blank is None:
            never_blank = to_crm and name in NEVER_BLANK_INTO_CRM
        if never_blank and is_empty(new) and not is_empty(old):
            return "never blank out"
        return "fill only if empty" if self.fill_only_if_empty and not is_empty(old) else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "never_blank": self.never_blank,
            "fill_only_if_empty": self.fill_only_if_empty,
        }


DEFAULT_RULE = FieldRule()
Rules = dict[str, FieldRule]


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field whose value on one side a run overwrites or leaves unsettled, with both values."""

    field: str
    crm: Value
    outlook: Value
    baseline: Value | None  # None: the pair had no baseline (first pairing)
    why: str  # changed on both sides | changed in the CRM only | changed in Outlook only | ...
    kept: str  # crm | outlook: the value both sides get; "": left as it is (a decision)
    # A person's choice (`personsync resolve`) that met the folder's rule for the field: the
    # guard it overrode ("fill only if empty", "never blank out"; kept is the side taken), or
    # the direction that refused it ("to-outlook", "to-crm", "none"; kept is "").
    rule: str = ""

    @property
    def settled(self) -> bool:
        """Both sides get the kept value (a one-way run can only write its target)."""
        return bool(self.kept)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "field": self.field,
            "crm": value_to_json(self.crm),
            "outlook": value_to_json(self.outlook),
            "baseline": None if self.baseline is None else value_to_json(self.baseline),
            "why": self.why,
            "kept": self.kept or UNSETTLED,
        }
        if self.rule:
            out["rule"] = self.rule
        return out


@dataclass(frozen=True, slots=True)
class FieldPlan:
    to_outlook: dict[str, Value]  # fields to write into the contact
    to_crm: dict[str, Value]  # fields to write into the Person
    baseline: Record  # the agreed values after the writes; open fields keep the old baseline
    conflicts: tuple[Conflict, ...]
    left: tuple[str, ...]  # fields that stay different (a decision, a policy, a rule)

    @property
    def settled(self) -> bool:
        """False: a field stays different, so the next run reads the pair again."""
        return not self.left


def _winner(policy: Policy, mode: Mode) -> str:
    """Which side's value a named field gets ("" = left as it is)."""
    if policy in ("newest", "skip"):
        return ""
    # A one-way run writes only its target: keeping the target's value = leaving it.
    if (mode == "export" and policy == "outlook") or (mode == "import" and policy == "crm"):
        return ""
    return policy


def _decide(
    name: str, c: Value, o: Value, b: Value | None, mode: Mode, policy: Policy
) -> tuple[str, str]:
    """(side whose value both get, or "" to leave it; why it is named, or "" when it is not)."""
    if b is None:
        # First pairing: nothing to tell an edit from the other side's value.
        if mode == "export":
            return "crm", ""
        if mode == "import":
            return "outlook", ""
        if is_empty(o):
            return "crm", ""
        if is_empty(c):
            return "outlook", ""
        return _winner(policy, mode), "differ at the first sync"
    if same(name, o, b):
        # Changed in the CRM only.
        if mode != "import":
            return "crm", ""
        return _winner(policy, mode), "changed in the CRM only"
    if same(name, c, b):
        # Changed in Outlook only.
        if mode != "export":
            return "outlook", ""
        return _winner(policy, mode), "changed in Outlook only"
    # Changed on both sides, to different values (equal values never reach here).
    return _winner(policy, mode), "changed on both sides"


def _asked(
    name: str, explicit: bool, policy: Policy | None, policies: Mapping[str, Policy]
) -> Policy | None:
    """The side a person took for `name` (`personsync resolve`): the named fields' own, or the
    run's policy for every field when none is named; None when the run is no person's choice."""
    if not explicit:
        return None
    took = policies.get(name) if policies else policy
    return took if took in ("crm", "outlook") else None


def _by_choice(rule: FieldRule, name: str, c: Value, o: Value, took: Policy) -> tuple[str, str]:
    """A conflict a person took a side for: (the side both get, "" when refused; the rule it
    met). The guards of automatic flows give way to the choice; a direction barring the side it
    writes refuses it, and the conflict stays a decision, named with that rule."""
    into_crm = took == "outlook"
    if rule.bars(into_crm):
        return "", rule.flow
    new, old = (o, c) if into_crm else (c, o)
    return took, rule.guard(name, into_crm, new, old)


def _as_set(values: Iterable[str]) -> dict[str, str]:
    """comparable form → as written, in order, without empties. The comparable form is the
    one `model.normalise` gives e-mails and categories (spaces around dropped, case folded):
    keyed by `casefold()` alone, `"Ann@x.org "` from an Outlook CSV and the CRM's
    `"ann@x.org"` were two addresses, and the merge wrote both."""
    out: dict[str, str] = {}
    for v in values:
        key = v.strip().casefold()
        if key and key not in out:
            out[key] = v
    return out


def merge_set(c: Iterable[str], o: Iterable[str], b: Iterable[str]) -> list[str]:
    """`(c ∪ o) − ((b − c) ∪ (b − o))`, Outlook's order first, then what the CRM added."""
    cs, os_, bs = _as_set(c), _as_set(o), _as_set(b)
    removed = {k for k in bs if k not in cs or k not in os_}
    return [
        v
        for k, v in (os_ | {k: v for k, v in cs.items() if k not in os_}).items()
        if k not in removed
    ]


def _sets(crm: Record, outlook: Record, base: Record, differing: set[str]) -> dict[str, Value]:
    """Two-way: the merged e-mail slots and categories, for the groups that differ."""
    out: dict[str, Value] = {}
    if differing & set(EMAILS):
        emails = merge_set(
            (getattr(crm, f) for f in EMAILS),
            (getattr(outlook, f) for f in EMAILS),
            (getattr(base, f) for f in EMAILS),
        )
        if len(emails) <= len(EMAILS):
            out.update(zip(EMAILS, [*emails, "", "", ""][: len(EMAILS)], strict=True))
    if "categories" in differing:
        out["categories"] = tuple(merge_set(crm.categories, outlook.categories, base.categories))
    return out


def _slot_refuses(
    rule: FieldRule, name: str, into_crm: bool, new: Value, old: Value, kept: set[Any]
) -> bool:
    """`FieldRule.refuses` for one slot of the merged e-mails, where "never blank out" means
    no address of this side is lost: a slot emptied because its address moved to another slot
    (`kept`: the merged addresses) blanks nothing out, and a slot whose address the merge
    drops blanks it out even when another address takes the slot."""
    if not is_empty(old) and normalise(name, old) not in kept:
        return rule.refuses(name, into_crm, "", old)  # this address is lost: a blank-out
    if not is_empty(old):
        return rule.refuses(name, into_crm, old, old)  # moved: the direction and fill-only rules
    return rule.refuses(name, into_crm, new, old)


def _never_twice(record: Record, writes: dict[str, Value], open_fields: list[str]) -> None:
    """Take back (leave as they are, open) the e-mail slots whose write would put an address
    next to a copy of itself on this side. Slots are written one by one, so a slot a rule
    refuses (never blank out, fill only if empty, not synced) keeps its address while another
    slot takes the same address moved there on the other side; and past three addresses the
    merge goes field by field, which can fill an empty slot with an address held in another.
    Leaving the slot keeps its old baseline, so the next run decides the same."""
    if not any(f in writes for f in EMAILS):
        return  # the common case: no address written, nothing to check
    for _ in EMAILS:  # each pass takes back one slot; a taken-back slot may show another copy
        slots = [(f, writes.get(f, getattr(record, f))) for f in EMAILS]
        keys = [normalise(f, v) for f, v in slots]
        twice = [f for (f, _), k in zip(slots, keys, strict=True) if k and keys.count(k) > 1]
        written = [f for f in reversed(twice) if f in writes]
        if not written:
            return
        del writes[written[0]]
        if written[0] not in open_fields:
            open_fields.append(written[0])


def three_way(
    crm: Record,
    outlook: Record,
    baseline: Record | None,
    mode: Mode,
    policy: Policy | None = None,
    unsupported: frozenset[str] = frozenset(),
    rules: Mapping[str, FieldRule] | None = None,
    policies: Mapping[str, Policy] | None = None,
    explicit: bool = False,
) -> FieldPlan:
    """The per-field plan of one linked pair (see the module doc). `rules`: the folder's field
    rules (a refused arrow leaves the field as it is); `policies`: a policy per field, over
    `policy` (`personsync resolve --field`); `explicit`: the policies are a person's choice for
    the conflicts (`personsync resolve`, see `_by_choice`)."""
    rules = rules or {}
    policies = policies or {}
    # Not synced, and, in a one-way run, a field that flows the other way only: the run cannot
    # write its owner's value (an import keeps a "to Outlook only" field out of the CRM). A
    # field a person named goes on, so that a conflict of it is refused by name, not in silence.
    against = {"import": "to-outlook", "export": "to-crm"}.get(mode)
    barred = {
        f
        for f, r in rules.items()
        if r.flow in ("none", against) and not (explicit and f in policies)
    }
    differing = [f for f in diff(outlook, crm) if f not in unsupported]
    # A field not synced stays as it is on each side, and keeps its baseline: the day it
    # syncs again, it is decided from the values both sides last agreed on.
    open_fields = [f for f in differing if f in barred]
    differing = [f for f in differing if f not in barred]
    if not differing and not open_fields:
        # Both sides agree (every pair of a first sync against contacts exported before):
        # nothing flows, nothing is named, the CRM's own Record is agreed (as below, in short).
        agreed = crm.replace({f: getattr(outlook, f) for f in unsupported}) if unsupported else crm
        return FieldPlan({}, {}, agreed, (), ())
    to_outlook: dict[str, Value] = {}
    to_crm: dict[str, Value] = {}
    conflicts: list[Conflict] = []
    merged: dict[str, Value] = {}
    if mode == "sync" and differing:
        # A first pairing merges against an empty baseline (a plain union): were its e-mails a
        # "differ at the first sync" decision, the link's next run would merge them anyway,
        # and an identical second run would not plan nothing.
        merged = _sets(crm, outlook, baseline or Record(), set(differing) - unsupported)
        differing += [f for f in merged if f not in differing]
    # The merged e-mail slots go into a side together or not at all: the merge moves addresses
    # between slots, so a rule refusing one slot (never blank out, not synced, fill only if
    # empty) while the others were written doubled an address (kept in the refused slot and
    # moved into another) or lost one (moved into the refused slot, blanked out of its own).
    slots = [f for f in EMAILS if f in merged]
    kept = {normalise(f, merged[f]) for f in slots} - {""}
    barred_into = {
        into_crm
        for f in slots
        for into_crm, here in ((True, crm), (False, outlook))
        if not same(f, merged[f], getattr(here, f))
        and _slot_refuses(
            rules.get(f, DEFAULT_RULE), f, into_crm, merged[f], getattr(here, f), kept
        )
    }
    for name in differing:
        c, o = getattr(crm, name), getattr(outlook, name)
        if name in merged:
            # Merged as a set: each side gets the union less what either side removed.
            value = merged[name]
            rule = rules.get(name, DEFAULT_RULE)
            into_outlook = not same(name, value, o)
            into_crm = not same(name, value, c)
            if name in slots:
                # A side the group may not go into keeps its addresses; the slot stays open
                # (old baseline), so the next run decides the same.
                if (into_outlook and False in barred_into) or (into_crm and True in barred_into):
                    open_fields.append(name)
                if into_outlook and False not in barred_into:
                    to_outlook[name] = value
                if into_crm and True not in barred_into:
                    to_crm[name] = value
                continue
            if (into_outlook and rule.refuses(name, False, value, o)) or (
                into_crm and rule.refuses(name, True, value, c)
            ):
                open_fields.append(name)
                continue
            if into_outlook:
                to_outlook[name] = value
            if into_crm:
                to_crm[name] = value
            continue
        b = None if baseline is None else getattr(baseline, name)
        rule = rules.get(name, DEFAULT_RULE)
        # A field that flows one way only is owned by its source: for it, the run is that
        # one-way mode, whatever the run's own.
        owned: Mode = {"to-outlook": "export", "to-crm": "import"}.get(rule.flow, mode)  # type: ignore[assignment]
        took = _asked(name, explicit, policy, policies)
        chosen = took or (
            policies.get(name)
            or (DEFAULT_POLICY[owned] if owned != mode else policy or DEFAULT_POLICY[mode])
        )
        side, why = _decide(name, c, o, b, owned, chosen)
        if b is None and owned != mode and not is_empty(c) and not is_empty(o):
            # A two-way run's first pairing of a field one side owns by rule: the owner's value
            # wins as in that one-way run, but the other side's is named, as the two-way table
            # names any two different values at a first sync (it was overwritten unnamed, or,
            # under "fill only if empty" too, left different unnamed until the next run named
            # it).
            why = "differ at the first sync"
        if took and why:
            # A conflict the person took a side for: their choice settles it, whatever the
            # guards of automatic flows say; a direction barring it refuses it, by name.
            side, met = _by_choice(rule, name, c, o, took)
            conflicts.append(Conflict(name, c, o, b, why, side, met))
        elif rule.flow == "none":
            side = ""  # not synced, named by a person but no conflict of this pair: left as is
        else:
            if side and rule.refuses(
                name,
                side == "outlook",
                o if side == "outlook" else c,
                c if side == "outlook" else o,
            ):
                side = ""
            if why:
                conflicts.append(Conflict(name, c, o, b, why, side))
        if side == "crm":
            to_outlook[name] = c
        elif side == "outlook":
            to_crm[name] = o
        else:
            open_fields.append(name)
    if barred_into:
        # The group is decided as a set, so a side it may not go into keeps the old baseline
        # of every slot: kept for the refused slots only, the set the next run merges against
        # lost an address, which then looked newly added and went back to the side that had
        # removed it.
        open_fields += [f for f in EMAILS if f not in open_fields]
    # Any mode: a one-way run goes field by field too (an import wrote slot 1 with the address
    # Outlook moved up from slot 2, and "never blank out" kept slot 2's copy).
    _never_twice(crm, to_crm, open_fields)
    _never_twice(outlook, to_outlook, open_fields)
    # The CRM's own Record when nothing flows into it (every pair of a first sync that agrees):
    # a copy per pair was a third Record per pair held by the plan.
    agreed = crm.replace(to_crm) if to_crm else crm
    if open_fields:
        old = baseline or Record()
        agreed = agreed.replace({f: getattr(old, f) for f in open_fields})
    if unsupported:
        agreed = agreed.replace({f: getattr(outlook, f) for f in unsupported})
    return FieldPlan(to_outlook, to_crm, agreed, tuple(conflicts), tuple(open_fields))


@dataclass(frozen=True)
class Choices:
    """How a run settles named fields: `policy` (None: the mode's default), a policy per field
    over it (`personsync resolve --field`), and the folder's field rules."""

    policy: Policy | None = None
    fields: Mapping[str, Policy] = field(default_factory=dict)
    rules: Mapping[str, FieldRule] = field(default_factory=dict)
    recreate: bool = False  # export: re-create contacts deleted in the folder
    # Deletes and view membership (docs/sync.md, "Deletes"): a linked Person deleted from the
    # CRM or gone from the view; a linked contact deleted in the folder; whether only the CRM
    # makes new records (a two-way sync then makes no Person for a new contact).
    on_person_removed: PersonRemoved = "keep"
    on_contact_deleted: ContactDeleted = "keep"
    crm_alone_creates: bool = False
    # The policies are a person's choice for the conflicts the run settles (`personsync
    # resolve`): the guards of automatic flows give way to it (merge._by_choice).
    explicit: bool = False

    def three_way(
        self,
        crm: Record,
        outlook: Record,
        baseline: Record | None,
        mode: Mode,
        unsupported: frozenset[str] = frozenset(),
    ) -> FieldPlan:
        return three_way(
            crm,
            outlook,
            baseline,
            mode,
            self.policy,
            unsupported,
            self.rules,
            self.fields,
            self.explicit,
        )


NO_CHOICES = Choices()
