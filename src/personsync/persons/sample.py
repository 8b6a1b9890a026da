"""Realistic, varied sample Persons: `generate(n, seed)` (used by the CLI, the sync tests and the
benchmarks).

International names with diacritics, 0–3 e-mails, phones in several countries' formats,
addresses in several countries, some fields missing, and about 3% near-duplicates of an earlier
Person (e-mail in other case, a one-letter typo in the last name, or a field dropped), which is
what a matcher has to cope with. Deterministic for a given seed.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from personsync.model import Record, Value
from personsync.persons.sample_data import (
    CATEGORIES,
    COMPANIES,
    COUNTRIES,
    DEPARTMENTS,
    JOB_TITLES,
    NICKNAMES,
    NOTES,
    PREFIXES,
    SUFFIXES,
    Country,
)

NEAR_DUPLICATE_SHARE = 0.03
_RECENT = 200
_SPELLED = str.maketrans(
    {"ß": "ss", "ł": "l", "Ł": "L", "ı": "i", "ø": "o"}
)  # near-duplicates copy one of the last few Persons, so they stay within a chunk


def generate(n: int, seed: int = 0) -> Iterator[Record]:
    """`n` sample Records, the same for the same seed."""
    rng = random.Random(seed)
    # Outlook's rarer fields come from their own generator, so that the others stay what they
    # were before those fields existed (benchmarks compare like with like).
    rarer = random.Random(seed + 1_000_003)
    recent: list[Record] = []
    for i in range(n):
        if recent and rng.random() < NEAR_DUPLICATE_SHARE:
            record = near_duplicate(rng, rng.choice(recent))
        else:
            record = _person(rng, i)
            extras = _rarer_fields(rarer, record)
            if extras:
                record = record.replace(extras)
        recent.append(record)
        if len(recent) > _RECENT:
            recent.pop(0)
        yield record


def near_duplicate(rng: random.Random, original: Record) -> Record:
    """The same person typed again: e-mail case changed, a typo, or a field missing."""
    how = rng.randrange(3)
    if how == 0 and original.email1:
        return original.replace({"email1": _flip_case(rng, original.email1)})
    if how == 1 and len(original.last_name) > 3:
        name = original.last_name
        k = rng.randrange(1, len(name) - 1)
        typo = name[:k] + name[k + 1] + name[k] + name[k + 2 :]  # swap two letters
        return original.replace({"last_name": typo})
    dropped = rng.choice(("mobile_phone", "company", "business_city", "email2", "birthday"))
    empty: object = None if dropped == "birthday" else ""
    return original.replace({dropped: empty})  # type: ignore[dict-item]


def _person(rng: random.Random, i: int) -> Record:
    home = rng.choice(COUNTRIES)
    work = home if rng.random() < 0.8 else rng.choice(COUNTRIES)
    first, last = rng.choice(home.first_names), rng.choice(home.last_names)
    company = rng.choice(COMPANIES) if rng.random() < 0.75 else ""
    values: dict[str, object] = {
        "first_name": first,
        "last_name": last,
        "company": company,
        "job_title": rng.choice(JOB_TITLES) if company and rng.random() < 0.7 else "",
        "department": rng.choice(DEPARTMENTS) if company and rng.random() < 0.4 else "",
        "prefix": rng.choice(PREFIXES) if rng.random() < 0.15 else "",
        "middle_name": _middle(rng, home.first_names, first) if rng.random() < 0.1 else "",
        "suffix": rng.choice(SUFFIXES) if rng.random() < 0.03 else "",
        "nickname": rng.choice(NICKNAMES) if rng.random() < 0.05 else "",
        "notes": rng.choice(NOTES) if rng.random() < 0.1 else "",
        "web_page": f"https://www.{home.domain}/~{_ascii(last).lower()}{i}"
        if rng.random() < 0.1
        else "",
        "birthday": _day(rng, 1940, 2005) if rng.random() < 0.4 else None,
        "anniversary": _day(rng, 1970, 2024) if rng.random() < 0.05 else None,
        "categories": tuple(rng.sample(CATEGORIES, rng.choice((0, 0, 0, 1, 1, 2)))),
    }
    values.update(_emails(rng, first, last, i, home, company))
    gap = rng.random()  # a few Persons known by one name only, as in any real address book
    if gap < 0.02:
        values["first_name"] = ""
    elif gap < 0.04:
        values["last_name"] = ""
    values.update(_phones(rng, home, work))
    if rng.random() < 0.6:
        values.update(_address(rng, "business", work, i))
    if rng.random() < 0.35:
        values.update(_address(rng, "home", home, i))
    if rng.random() < 0.03:
        values.update(_address(rng, "other", rng.choice(COUNTRIES), i))
    return Record(**values)  # type: ignore[arg-type]


# Outlook's fields that few contacts fill: the share of Persons that have each.
_RARER_TEXT = (
    ("initials", 0.04),
    ("file_as", 0.03),
    ("profession", 0.04),
    ("office_location", 0.04),
    ("manager", 0.02),
    ("assistant_name", 0.02),
    ("spouse_name", 0.04),
    ("yomi_first_name", 0.01),
    ("yomi_last_name", 0.01),
    ("yomi_company", 0.01),
)
_RARER_PHONES = (
    "home_phone2", "home_fax", "other_fax", "primary_phone", "company_main_phone",
    "assistant_phone", "callback_phone", "car_phone", "isdn", "pager", "radio_phone", "telex",
    "tty_phone",
)  # fmt: skip


def _rarer_fields(rng: random.Random, record: Record) -> dict[str, Value]:
    if rng.random() >= 0.15:  # most Persons have none of them
        return {}
    out: dict[str, Value] = {}
    first, last = record.first_name or "Kim", record.last_name or "Lee"
    for name, share in _RARER_TEXT:
        if rng.random() < share / 0.15:
            out[name] = {
                "initials": f"{first[:1]}.{last[:1]}.",
                "file_as": f"{last}, {first}",
                "profession": rng.choice(JOB_TITLES),
                "office_location": f"Building {rng.randrange(1, 9)}",
                "yomi_company": (record.company or "Sample").upper(),
            }.get(name, f"{rng.choice(NICKNAMES)} {last}")
    if rng.random() < 0.3:
        out["im_address"] = f"{_ascii(first).lower()}.{rng.randrange(10**6)}@im.example"
        if rng.random() < 0.2:
            out["im_address2"] = f"sip:{_ascii(last).lower()}{rng.randrange(10**6)}@example.org"
            if rng.random() < 0.5:
                out["im_address3"] = f"xmpp:{rng.randrange(10**6)}@example.org"
    if rng.random() < 0.2:
        out["children"] = tuple(rng.sample(NICKNAMES, rng.choice((1, 2))))
    for name in _RARER_PHONES:
        if rng.random() < 0.1:
            out[name] = f"+1 212 555 {rng.randrange(10000):04d}"
    return out


def _emails(
    rng: random.Random, first: str, last: str, i: int, home: Country, company: str
) -> dict[str, str]:
    local = f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "").replace("'", "")
    count = rng.choices((0, 1, 2, 3), weights=(8, 60, 25, 7))[0]
    domains = [home.domain, "mail.example.net"]
    if company:
        domains.insert(0, _ascii(company).split()[0].lower().strip("%_&.") + ".example")
    out: dict[str, str] = {}
    for slot in range(count):
        # the index keeps addresses unique across the sample (apart from near-duplicates)
        address = f"{local}{i}{'' if slot == 0 else slot}@{domains[slot % len(domains)]}"
        out[f"email{slot + 1}"] = address.upper() if rng.random() < 0.02 else address
    return out


def _phones(rng: random.Random, home: Country, work: Country) -> dict[str, str]:
    out: dict[str, str] = {}
    slots = (
        ("business_phone", work, 0.6),
        ("mobile_phone", home, 0.55),
        ("home_phone", home, 0.2),
        ("business_phone2", work, 0.05),
        ("business_fax", work, 0.05),
        ("other_phone", home, 0.03),
    )
    for name, country, share in slots:
        if rng.random() < share:
            out[name] = _digits(rng, rng.choice(country.phone_formats))
    return out


def _address(rng: random.Random, kind: str, country: Country, i: int) -> dict[str, str]:
    city, state, postal = rng.choice(country.cities)
    street = country.street_format.format(n=rng.randint(1, 250), s=rng.choice(country.streets))
    if rng.random() < 0.05:
        street += f"\nc/o Building {i % 7 + 1}"  # a multi-line street, as Outlook allows
    return {
        f"{kind}_street": street,
        f"{kind}_city": city,
        f"{kind}_state": state if rng.random() < 0.9 else "",
        f"{kind}_postal_code": _digits(rng, postal),
        f"{kind}_country": country.name if rng.random() < 0.85 else "",
    }


def _digits(rng: random.Random, pattern: str) -> str:
    count = pattern.count("#")
    digits = iter(f"{rng.randrange(10**count):0{count}d}")  # one draw per pattern, not per digit
    return "".join(next(digits) if ch == "#" else ch for ch in pattern)


def _middle(rng: random.Random, names: Sequence[str], first: str) -> str:
    """A middle name that is not the first name (one draw, as before: same seed, same data)."""
    middle = rng.choice(names)
    if middle != first:
        return middle
    others = [n for n in names if n != first]
    return others[names.index(middle) % len(others)] if others else ""


def _day(rng: random.Random, first_year: int, last_year: int) -> date:
    start = date(first_year, 1, 1)
    return start + timedelta(days=rng.randrange((date(last_year, 12, 31) - start).days))


def _flip_case(rng: random.Random, text: str) -> str:
    return text.upper() if rng.random() < 0.5 else text.capitalize()


@functools.lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    """Letters without their accents, for e-mail local parts (ß, ł and friends spelled out)."""
    spelled = text.translate(_SPELLED)
    decomposed = unicodedata.normalize("NFKD", spelled)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in " .-"))
