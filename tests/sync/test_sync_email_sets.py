"""Two-way e-mail merge as sets (sync/merge.py) never leaves an address twice on one side.

Addresses compare as the rest of the engine compares them (`model.normalise`: surrounding spaces
dropped, case folded: Exchange and the CRM's matching treat `Ann@Example.org` and
`ann@example.org` as one mailbox), and a "never blank out" rule that refuses emptying one slot
must not let the other slots move an address next to the copy it left behind.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from personsync.model import Record, normalise
from personsync.sync.merge import EMAILS, FieldPlan, FieldRule, merge_set, three_way

B = Record(first_name="Ada", last_name="Lee")


def _emails(*addresses: str) -> Record:
    return replace(B, **dict(zip(EMAILS, [*addresses, "", "", ""][:3], strict=True)))


def _after(record: Record, changes: dict[str, object]) -> list[str]:
    return [getattr(record.replace(changes), f) for f in EMAILS]


def _twice(addresses: list[str]) -> list[str]:
    """The addresses held more than once, as the engine compares them."""
    seen = [normalise("email1", a) for a in addresses if a.strip()]
    return sorted({a for a in seen if seen.count(a) > 1})


def _both(crm: Record, outlook: Record, fp: FieldPlan) -> tuple[list[str], list[str]]:
    return _after(crm, fp.to_crm), _after(outlook, fp.to_outlook)


def test_an_address_moved_up_a_slot_in_outlook_is_not_doubled_in_the_crm() -> None:
    # Outlook deleted the first address, so the second moved up into slot 1. Into the CRM,
    # "never blank out" (the default for e-mails) refuses emptying slot 2, but slot 1 took the
    # moved address: the CRM held it twice.
    base = _emails("old@x.org", "ada@home.net")
    crm, outlook = base, _emails("ada@home.net")
    fp = three_way(crm, outlook, base, "sync")
    after_crm, after_outlook = _both(crm, outlook, fp)
    assert _twice(after_crm) == [] and _twice(after_outlook) == []
    # The CRM keeps the address Outlook removed (never blank out), and the pair stays open, so
    # the next run decides the same; nothing is lost on either side.
    assert {"old@x.org", "ada@home.net"} <= set(after_crm)
    assert "ada@home.net" in after_outlook and not fp.settled


def test_the_crm_adds_while_outlook_removes_both_keep_everything_once() -> None:
    base = _emails("a@x.org", "b@x.org")
    crm = _emails("a@x.org", "b@x.org", "c@x.org")  # the CRM added c
    outlook = _emails("b@x.org")  # Outlook removed a
    fp = three_way(crm, outlook, base, "sync")
    after_crm, after_outlook = _both(crm, outlook, fp)
    assert _twice(after_crm) == [] and _twice(after_outlook) == []
    assert set(after_crm) - {""} == {"a@x.org", "b@x.org", "c@x.org"}  # nothing blanked out
    assert set(after_outlook) - {""} == {"b@x.org", "c@x.org"}  # the CRM's addition went out
    # The next run, on what the first left, plans no more writes.
    crm2, outlook2 = crm.replace(fp.to_crm), outlook.replace(fp.to_outlook)
    again = three_way(crm2, outlook2, fp.baseline, "sync")
    assert not again.to_crm and not again.to_outlook


def test_the_same_address_with_other_case_or_spaces_is_one_address() -> None:
    # A first sync: Outlook's card (from a CSV) keeps a trailing space and capitals, the CRM
    # has the address lower-cased, and Outlook has a second one. The union must hold the
    # first address once, not as "two" addresses on each side.
    crm = _emails("ann@example.org")
    outlook = _emails("Ann@Example.org ", "ann@home.net")
    fp = three_way(crm, outlook, None, "sync")
    after_crm, after_outlook = _both(crm, outlook, fp)
    assert _twice(after_crm) == [] and _twice(after_outlook) == []
    assert "ann@home.net" in after_crm
    assert merge_set(["a@x.org"], [" A@X.org", "b@x.org"], []) == [" A@X.org", "b@x.org"]


ADDRESSES = st.sampled_from(
    ["a@x.org", "A@X.org", " a@x.org", "b@x.org", "B@x.org ", "c@x.org", "d@x.org", ""]
)


def _slots(draw: st.DrawFn) -> Record:
    """Three slots without an address twice (as a person, or the CRM, would keep them)."""
    picked = draw(st.lists(ADDRESSES, min_size=3, max_size=3))
    kept: list[str] = []
    for a in picked:
        kept.append("" if a.strip() and _twice([*kept, a]) else a)
    return _emails(*kept)


slots = st.composite(_slots)
RULES = st.sampled_from(
    [
        {},
        {f: FieldRule(never_blank=True) for f in EMAILS},
        {f: FieldRule(never_blank=False) for f in EMAILS},
        {"email2": FieldRule(flow="none")},
        {f: FieldRule(fill_only_if_empty=True) for f in EMAILS},
    ]
)


@settings(max_examples=3000, deadline=None)
@given(crm=slots(), outlook=slots(), base=slots(), rules=RULES, first=st.booleans())
def test_no_merge_ever_leaves_an_address_twice_on_a_side(
    crm: Record, outlook: Record, base: Record, rules: dict[str, FieldRule], first: bool
) -> None:
    fp = three_way(crm, outlook, None if first else base, "sync", rules=rules)
    after_crm, after_outlook = _both(crm, outlook, fp)
    assert _twice(after_crm) == [], (after_crm, fp)
    assert _twice(after_outlook) == [], (after_outlook, fp)

    # An address one side added since the baseline is still on some side afterwards.
    def held(*records: Record | list[str]) -> set[str]:
        values = [v for r in records for v in (r if isinstance(r, list) else _after(r, {}))]
        return {normalise("email1", v) for v in values} - {""}

    added = held(crm, outlook) - (set() if first else held(base))
    assert added <= held(after_crm, after_outlook), (added, after_crm, after_outlook)


@settings(max_examples=300, deadline=None)
@given(crm=slots(), outlook=slots(), base=slots(), rules=RULES, first=st.booleans())
def test_a_second_run_on_what_the_first_left_writes_no_addresses(
    crm: Record, outlook: Record, base: Record, rules: dict[str, FieldRule], first: bool
) -> None:
    fp = three_way(crm, outlook, None if first else base, "sync", rules=rules)
    crm2, outlook2 = crm.replace(fp.to_crm), outlook.replace(fp.to_outlook)
    again = three_way(crm2, outlook2, fp.baseline, "sync", rules=rules)
    written = {f: v for f, v in {**again.to_crm, **again.to_outlook}.items() if f in EMAILS}
    assert written == {}, (again, fp)


@settings(max_examples=300, deadline=None)
@given(
    crm=slots(),
    outlook=slots(),
    base=slots(),
    rules=RULES,
    mode=st.sampled_from(["import", "export"]),
)
def test_one_way_runs_never_leave_an_address_twice_either(
    crm: Record, outlook: Record, base: Record, rules: dict[str, FieldRule], mode: str
) -> None:
    # Field by field: Outlook deleted its first address and moved the second up; an import
    # wrote slot 1 and "never blank out" kept slot 2: the CRM held the address twice.
    fp = three_way(crm, outlook, base, mode, rules=rules)  # type: ignore[arg-type]
    after_crm, after_outlook = _both(crm, outlook, fp)
    assert _twice(after_crm) == [] and _twice(after_outlook) == [], (after_crm, after_outlook)


def test_an_import_of_an_address_moved_up_a_slot_does_not_double_it() -> None:
    base = _emails("old@x.org", "ada@home.net")
    crm, outlook = base, _emails("ada@home.net")
    fp = three_way(crm, outlook, base, "import")
    after_crm, _ = _both(crm, outlook, fp)
    assert _twice(after_crm) == [] and "ada@home.net" in after_crm
