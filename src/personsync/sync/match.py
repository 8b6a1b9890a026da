"""First-sync matching: which unlinked contact is which Person.

The rule: the same e-mail address; else the same full name (transliterated, case-folded) and the
same phone number or company. Candidates are found by exact keys in dicts (never by comparing
every pair), so matching 100,000 records costs one pass over each side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Set
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from anyascii import anyascii

from personsync.fields import FIELDS
from personsync.model import Record, normalise_phone

K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q", bound=Hashable)

_EMAILS = tuple(f.name for f in FIELDS if f.kind == "email")
_PHONES = tuple(f.name for f in FIELDS if f.kind == "phone")


def email_key(address: str) -> str:
    """`normalise`'s e-mail form; the address itself when it is that form already (most are):
    an index over 100,000 contacts held a lower-cased copy of each, 10 MB."""
    key = address.strip().casefold()
    return address if key == address else key


def email_keys(r: Record) -> set[str]:
    return {email_key(getattr(r, n)) for n in _EMAILS if getattr(r, n)}


def phone_keys(r: Record, normalised: Callable[[str], str] = normalise_phone) -> set[str]:
    return {normalised(getattr(r, n)) for n in _PHONES if getattr(r, n)}


def name_key(r: Record) -> str:
    """First and last name only: middle names and prefixes are often missing on one side."""
    text = f"{r.first_name} {r.last_name}".strip()
    if not text:
        return ""
    return " ".join(str(anyascii(text)).casefold().split())


def company_key(r: Record) -> str:
    return " ".join(str(anyascii(r.company)).casefold().split()) if r.company else ""


class _Entry(Generic[K]):
    """An indexed record; its phone and company keys are computed the first time a name matches
    it, and kept (a name bucket is scanned by every query of that name: at 100,000 records a
    bucket of the sample holds 66, and the company's transliteration per scan was 570,000
    calls)."""

    __slots__ = ("_company", "_phones", "key", "record")

    def __init__(self, key: K, record: Record) -> None:
        self.key = key
        self.record = record
        self._phones: tuple[str, ...] | None = None
        self._company: str | None = None

    @property
    def phones(self) -> tuple[str, ...]:
        # Kept as a tuple: a set is 216 bytes even when empty, 15 MB for a first sync's 100,000
        # contacts whose names matched.
        if self._phones is None:
            self._phones = tuple(phone_keys(self.record))
        return self._phones

    @property
    def company(self) -> str:
        if self._company is None:
            self._company = company_key(self.record)
        return self._company


V = TypeVar("V")


def _put(index: dict[str, V | list[V]], key: str, value: V) -> None:
    """One value under `key` is kept as itself, a list only from the second: a first sync's
    index over 100,000 contacts held two one-item lists per contact (about 20 MB), and keys
    are mostly unique. The values are keys or entries, never lists."""
    held = index.get(key)
    if held is None:
        index[key] = value
    elif isinstance(held, list):
        held.append(value)
    else:
        index[key] = [held, value]


def _got(index: dict[str, V | list[V]], key: str) -> list[V] | tuple[V, ...]:
    held = index.get(key)
    if held is None:
        return ()
    return held if isinstance(held, list) else (held,)


@dataclass
class MatchIndex(Generic[K]):
    """Records of one side, indexed by e-mail and by name, to look the other side up in."""

    by_email: dict[str, K | list[K]] = field(default_factory=dict)
    by_name: dict[str, _Entry[K] | list[_Entry[K]]] = field(default_factory=dict)
    # The queries' numbers, normalised: `resolve` asks for the same ones in each round. Held
    # by the index, so by one match of one run, and gone with it (an indexed record's own
    # numbers are kept by its entry instead, and normalised once).
    query_phones: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.by_email and not self.by_name

    def add(self, key: K, record: Record) -> None:
        for email in email_keys(record):
            _put(self.by_email, email, key)
        name = name_key(record)
        if name:
            _put(self.by_name, name, _Entry(key, record))

    def _query_phone(self, raw: str) -> str:
        known = self.query_phones.get(raw)
        if known is None:
            known = self.query_phones[raw] = normalise_phone(raw)
        return known

    def candidates(self, record: Record, taken: Set[K] = frozenset()) -> tuple[str, list[K]]:
        """(how they matched, the candidates not `taken`), in a stable order without repeats:
        by e-mail, else by name."""
        found = self.by_email_of(record, taken)
        if found:
            return "e-mail", found
        return self.by_name_of(record, taken)

    def by_email_of(self, record: Record, taken: Set[K] = frozenset()) -> list[K]:
        found: dict[K, None] = {}
        for email in sorted(email_keys(record)):
            for key in _got(self.by_email, email):
                if key not in taken:
                    found[key] = None
        return list(found)

    def by_name_of(
        self, record: Record, taken: Set[K] = frozenset(), prune: bool = False
    ) -> tuple[str, list[K]]:
        """`prune`: `taken` only grows (as in `resolve`), so the entries it holds are dropped
        from the bucket for good: a bucket is scanned by every query of its name, most of its
        entries taken by e-mail (at 100,000, 670,000 entries looked at, 2 s)."""
        name = name_key(record)
        entries = _got(self.by_name, name) if name else ()
        if prune and len(entries) > 1:
            live = [entry for entry in entries if entry.key not in taken]
            if len(live) < len(entries):
                if live:
                    self.by_name[name] = live if len(live) > 1 else live[0]
                else:
                    del self.by_name[name]
                entries = live
        if not entries:
            return "", []
        # Phones are normalised only when a name matches: parsing numbers is the slow part.
        phones, company = phone_keys(record, self._query_phone), company_key(record)
        found: dict[K, None] = {}
        how = ""
        for entry in entries:
            if entry.key in taken:
                continue
            if phones and not phones.isdisjoint(entry.phones):
                found[entry.key] = None
                how = how or "name and phone"
            elif company and company == entry.company:
                found[entry.key] = None
                how = how or "name and company"
        return how, list(found)


@dataclass
class Resolution(Generic[Q, K]):
    matched: dict[Q, tuple[str, K]]  # exactly one candidate, claimed by no one else
    ambiguous: dict[Q, tuple[str, list[K]]]  # several candidates
    contested: dict[Q, tuple[str, K, list[Q]]]  # its one candidate is wanted by others too
    unmatched: list[Q]


def resolve(
    queries: Iterable[tuple[Q, Record]], index: MatchIndex[K], taken: Set[K]
) -> Resolution[Q, K]:
    """Match each query to at most one record of `index`, never guessing. The queries may come
    one at a time (a generator): when there is nothing to match against (a first export, an
    import into an empty database) they are only counted through, never held together.

    A match found earlier takes its record out of the others' candidates, so rounds repeat until
    nothing new is matched: the result is a fixed point, which is what makes the next run (where
    those matches are links) plan the same thing, i.e. nothing.

    Within a round the e-mail matches come first, as the rule reads ("the same e-mail address;
    else the same name and phone or company"): those claimed by one query alone are taken
    before any query is matched by name, so a name's candidates are the records no e-mail took,
    as they are in the next run, where those matches are links. (Matched by name in the same
    breath, a record an e-mail query alone wanted was contested by both, and every record of a
    name had its phone numbers parsed: at 100,000, 160,000 numbers, half of the plan's time.)
    A record that e-mail queries contest among themselves still counts against a name query
    that wants it too: nothing contested is settled.
    """
    matched: dict[Q, tuple[str, K]] = {}
    if index.empty:
        return Resolution(matched, {}, {}, [q for q, _ in queries])
    # (Copied only now: a first sync's contacts half has nothing to match against, and
    # `taken` is every Person, 100,000.)
    used = set(taken)
    pending = list(queries)
    while True:
        proposals: dict[Q, tuple[str, K]] = {}
        ambiguous: dict[Q, tuple[str, list[K]]] = {}
        unmatched: list[Q] = []
        by_name: list[tuple[Q, Record]] = []
        for q, record in pending:
            cands = index.by_email_of(record, used)
            if not cands:
                by_name.append((q, record))
            elif len(cands) > 1:
                ambiguous[q] = ("e-mail", cands)
            else:
                proposals[q] = ("e-mail", cands[0])
        accepted = _accept(proposals, matched, used)
        for q, record in by_name:
            how, cands = index.by_name_of(record, used, prune=True)
            if len(cands) > 1:
                ambiguous[q] = (how, cands)
            elif cands:
                proposals[q] = (how, cands[0])
            else:
                unmatched.append(q)
        # The e-mail proposals left are contested: their records count against these too.
        accepted += _accept(proposals, matched, used)
        if not accepted:
            # One record wanted by several queries: not guessed. (Grouped by record, not a
            # scan of every proposal per proposal.)
            rivals: dict[K, list[Q]] = {}
            for q, (_, key) in proposals.items():
                rivals.setdefault(key, []).append(q)
            contested = {q: (how, key, rivals[key]) for q, (how, key) in proposals.items()}
            return Resolution(matched, ambiguous, contested, unmatched)
        del proposals
        pending = [(q, r) for q, r in pending if q not in matched]


def _accept(
    proposals: dict[Q, tuple[str, K]], matched: dict[Q, tuple[str, K]], used: set[K]
) -> int:
    """Move the proposals whose record no other proposal wants into `matched` (straight in: a
    first sync's are 100,000, no second dict of them); how many."""
    claims = Counter(key for _, key in proposals.values())
    won = [q for q, (_, key) in proposals.items() if claims[key] == 1]
    for q in won:
        matched[q] = proposal = proposals.pop(q)
        used.add(proposal[1])
    return len(won)
