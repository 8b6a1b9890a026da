"""First-sync matching: which unlinked contact is which Person.

The rule: the same e-mail address; else the same full name (transliterated, case-folded) and the
same phone number or company. Candidates are found by exact keys in dicts (never by comparing
every pair), so matching 100,000 records costs one pass over each side.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Set
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
H = TypeVar("H", bound=Hashable)


def _put(index: dict[H, V | list[V]], key: H, value: V) -> None:
    """One value under `key` is kept as itself, a list only from the second: a first sync's
    index over 100,000 contacts held two one-item lists per contact (about 20 MB), and keys
    are mostly unique. The values are keys, entries or queries, never lists (all hashable)."""
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
    # The queries' numbers, normalised: `resolve` asks for the same ones in each round. Held
    # by the index, so by one match of one run, and gone with it (an indexed record's own
    # numbers are kept by its entry instead, and normalised once).
    query_phones: dict[str, str] = field(default_factory=dict)
    _names: dict[str, _Entry[K] | list[_Entry[K]]] = field(default_factory=dict)
    # Records added and not indexed by name yet (keys and records, in the order added): by
    # name when a name is first looked up. Why: most of a first sync's records are taken by
    # e-mail in `resolve`'s first round, before any name is looked up, and such a record can
    # never be a name's candidate again; indexing all 100,000 by name first (an entry and a
    # transliterated name each) was 10 MB of the plan's peak, and their names' time.
    _later_keys: list[K] = field(default_factory=list)
    _later: list[Record] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.by_email and not self._names and not self._later

    @property
    def by_name(self) -> dict[str, _Entry[K] | list[_Entry[K]]]:
        """Name → the entries of that name (every record added is indexed by now)."""
        self._name_later()
        return self._names

    def add(self, key: K, record: Record) -> None:
        for email in email_keys(record):
            _put(self.by_email, email, key)
        self._later_keys.append(key)
        self._later.append(record)

    def _name_later(self, taken: Set[K] = frozenset()) -> None:
        """Index the records added since by name, in the order added, except those `taken`
        (only for a caller whose `taken` only grows: `by_name_of` with `prune`)."""
        if not self._later:
            return
        for key, record in zip(self._later_keys, self._later, strict=True):
            if key not in taken:
                name = name_key(record)
                if name:
                    _put(self._names, name, _Entry(key, record))
        self._later_keys, self._later = [], []

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
        self._name_later(taken if prune else frozenset())
        name = name_key(record)
        entries = _got(self._names, name) if name else ()
        if prune and len(entries) > 1:
            live = [entry for entry in entries if entry.key not in taken]
            if len(live) < len(entries):
                if live:
                    self._names[name] = live if len(live) > 1 else live[0]
                else:
                    del self._names[name]
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


class Matched(Mapping[Q, tuple[str, K]]):
    """Query → (how it matched, its record), as a dict of them reads, from the queries in the
    order they were given with each one's record (None: not matched), and the few name
    matches' `how` (the rest matched by e-mail). Why not that dict: a first sync matches
    100,000 queries, and a tuple each was 6 MB of planning's peak, a dict of the records by
    query 5 MB more while the pairs were planned; the planner asks in the queries' order
    (`at`). A look-up by query makes that dict when first asked (a CSV import of Persons
    asks so)."""

    __slots__ = ("_at", "_by_name", "_found", "_queries")

    def __init__(self, queries: list[Q], found: dict[Q, K], by_name: dict[Q, str]) -> None:
        self._queries = queries
        self._at: list[K | None] = [found.get(q) for q in queries]
        self._by_name = by_name
        self._found: dict[Q, K] | None = None

    def at(self, i: int) -> tuple[str, K] | None:
        """How the `i`-th query given matched and its record; None when it did not (all of
        them, when there was nothing to match against: then none are held)."""
        key = self._at[i] if i < len(self._at) else None
        if key is None:
            return None
        return self._by_name.get(self._queries[i], "e-mail"), key

    def _by_query(self) -> dict[Q, K]:
        if self._found is None:
            self._found = {
                q: k for q, k in zip(self._queries, self._at, strict=True) if k is not None
            }
        return self._found

    def __getitem__(self, q: Q) -> tuple[str, K]:
        return self._by_name.get(q, "e-mail"), self._by_query()[q]

    def __contains__(self, q: object) -> bool:
        return q in self._by_query()

    def __iter__(self) -> Iterator[Q]:
        return iter(self._by_query())

    def __len__(self) -> int:
        return len(self._by_query())


@dataclass
class Resolution(Generic[Q, K]):
    matched: Matched[Q, K]  # exactly one candidate, claimed by no one else
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

    What a round holds is kept small, as a first sync has 100,000 queries and this is the peak
    of its planning: the queries and their records as two lists (not a tuple each), the
    proposals by record (the query that wants it, a list only when several do: one dict, not
    the proposals, their count per record and a tuple each).
    """
    matched: dict[Q, K] = {}
    named: dict[Q, str] = {}  # how the queries matched by name did (the others: by e-mail)
    if index.empty:
        return Resolution(Matched([], matched, named), {}, {}, [q for q, _ in queries])
    # (Copied only now: a first sync's contacts half has nothing to match against, and
    # `taken` is every Person, 100,000.)
    used = set(taken)
    keys: list[Q] = []
    records: list[Record] = []
    for q, record in queries:
        keys.append(q)
        records.append(record)
    given = keys  # the queries in their order (`Matched`); `keys` are those left each round
    while True:
        wanted: dict[K, Q | list[Q]] = {}  # record → the query proposing it (list: several)
        how_by_name: dict[Q, str] = {}
        ambiguous: dict[Q, tuple[str, list[K]]] = {}
        unmatched: list[Q] = []
        by_name: list[int] = []
        for i, record in enumerate(records):
            cands = index.by_email_of(record, used)
            if not cands:
                by_name.append(i)
            elif len(cands) > 1:
                ambiguous[keys[i]] = ("e-mail", cands)
            else:
                _put(wanted, cands[0], keys[i])
        accepted = _accept(wanted, how_by_name, matched, named, used)
        for i in by_name:
            q = keys[i]
            how, cands = index.by_name_of(records[i], used, prune=True)
            if len(cands) > 1:
                ambiguous[q] = (how, cands)
            elif cands:
                _put(wanted, cands[0], q)
                how_by_name[q] = how
            else:
                unmatched.append(q)
        del by_name
        # The e-mail proposals left are contested: their records count against these too.
        accepted += _accept(wanted, how_by_name, matched, named, used)
        if not accepted:
            # One record wanted by several queries: not guessed. (Every record left in
            # `wanted` is wanted by several.)
            contested: dict[Q, tuple[str, K, list[Q]]] = {}
            for key, rivals in wanted.items():
                assert isinstance(rivals, list)
                for q in rivals:
                    contested[q] = (how_by_name.get(q, "e-mail"), key, rivals)
            return Resolution(Matched(given, matched, named), ambiguous, contested, unmatched)
        del wanted, how_by_name, ambiguous, unmatched
        kept = [i for i, q in enumerate(keys) if q not in matched]
        keys = [keys[i] for i in kept]
        records = [records[i] for i in kept]
        del kept


def _accept(
    wanted: dict[K, Q | list[Q]],
    how_by_name: dict[Q, str],
    matched: dict[Q, K],
    named: dict[Q, str],
    used: set[K],
) -> int:
    """Move the proposals whose record no other proposal wants into `matched` (and `named`,
    for those by name); how many."""
    won = [key for key, q in wanted.items() if not isinstance(q, list)]
    for key in won:
        q = wanted.pop(key)
        assert not isinstance(q, list)
        matched[q] = key
        how = how_by_name.get(q)
        if how is not None:
            named[q] = how
        used.add(key)
    return len(won)
