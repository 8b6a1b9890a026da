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
    """An indexed record; its phone keys are computed the first time a name matches it."""

    __slots__ = ("_phones", "key", "record")

    def __init__(self, key: K, record: Record) -> None:
        self.key = key
        self.record = record
        self._phones: tuple[str, ...] | None = None

    @property
    def phones(self) -> tuple[str, ...]:
        # Kept as a tuple: a set is 216 bytes even when empty, 15 MB for a first sync's 100,000
        # contacts whose names matched.
        if self._phones is None:
            self._phones = tuple(phone_keys(self.record))
        return self._phones

    @property
    def company(self) -> str:
        return company_key(self.record)


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
        """(how they matched, the candidates not `taken`), in a stable order without repeats."""
        found: dict[K, None] = {}
        for email in sorted(email_keys(record)):
            for key in _got(self.by_email, email):
                if key not in taken:
                    found[key] = None
        if found:
            return "e-mail", list(found)
        name = name_key(record)
        entries = _got(self.by_name, name) if name else ()
        if not entries:
            return "", []
        # Phones are normalised only when a name matches: parsing numbers is the slow part.
        phones, company = phone_keys(record, self._query_phone), company_key(record)
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
    """
    used = set(taken)
    matched: dict[Q, tuple[str, K]] = {}
    if index.empty:
        return Resolution(matched, {}, {}, [q for q, _ in queries])
    pending = list(queries)
    while True:
        proposals: dict[Q, tuple[str, K]] = {}
        ambiguous: dict[Q, tuple[str, list[K]]] = {}
        unmatched: list[Q] = []
        for q, record in pending:
            how, cands = index.candidates(record, used)
            if len(cands) > 1:
                ambiguous[q] = (how, cands)
            elif cands:
                proposals[q] = (how, cands[0])
            else:
                unmatched.append(q)
        claims = Counter(key for _, key in proposals.values())
        # Accepted straight into `matched` (a first sync's are 100,000: no second dict of them).
        accepted = 0
        for q, p in proposals.items():
            if claims[p[1]] == 1:
                matched[q] = p
                used.add(p[1])
                accepted += 1
        if not accepted:
            # One record wanted by several queries: not guessed. (Grouped by record, not a
            # scan of every proposal per proposal.)
            rivals: dict[K, list[Q]] = {}
            for q, (_, key) in proposals.items():
                rivals.setdefault(key, []).append(q)
            contested = {q: (how, key, rivals[key]) for q, (how, key) in proposals.items()}
            return Resolution(matched, ambiguous, contested, unmatched)
        del proposals, claims
        pending = [(q, r) for q, r in pending if q not in matched]
