"""New card UIDs (`vcf_names.NewUids`): UUIDv7, unique and in creation order, so that the
database indexes they go into grow at their end; new files' readable names, whose suffix (the
item id) keeps that order."""

from __future__ import annotations

import copy
import time
import unicodedata
import uuid

import pytest

from personsync.model import Record
from personsync.stores import vcf_names
from personsync.stores.vcf_names import (
    SUFFIX,
    NewUids,
    decode_stem,
    readable_stem,
    suffix_id,
    suffix_of,
)


def test_new_uids_are_version_7_unique_in_order_and_their_own_file_names() -> None:
    new = NewUids()
    before = time.time_ns() // 1_000_000
    uids = [new() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(uids)) == len(uids)
    assert uids == sorted(uids)
    for uid in uids[::997]:
        parsed = uuid.UUID(uid)
        assert str(parsed) == uid
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after + 5  # the millisecond it was made
        assert decode_stem(uid) == uid  # a file name that needs no encoding


def test_the_same_millisecond_counts_on_and_carries_into_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vcf_names.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    new = NewUids()
    uids = [uuid.UUID(new()) for _ in range(5000)]  # more than the 4,096 counter values
    assert [u.int for u in uids] == sorted(u.int for u in uids)
    assert len({u.int for u in uids}) == 5000
    assert uids[0].int >> 80 == 1_700_000_000_000
    assert uids[-1].int >> 80 == 1_700_000_000_001  # the counter ran over into the next ms
    assert all(u.version == 7 for u in uids)


def test_a_clock_that_goes_back_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([5_000, 5_000, 4_000, 3_000, 6_000])
    monkeypatch.setattr(vcf_names.time, "time_ns", lambda: next(clock) * 1_000_000)
    new = NewUids()
    uids = [new() for _ in range(5)]
    assert uids == sorted(uids) and len(set(uids)) == 5


def test_a_forked_child_draws_its_own_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vcf_names.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    parent = NewUids()
    parent()  # draws a batch of random bits
    child = copy.deepcopy(parent)  # what fork() copies
    monkeypatch.setattr(vcf_names.os, "getpid", lambda: -1)
    in_child = child()
    monkeypatch.undo()
    monkeypatch.setattr(vcf_names.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    assert parent() != in_child  # same millisecond and counter: only the random bits differ


# --- readable names of new files ------------------------------------------------------------

WINDOWS_FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)}


@pytest.mark.parametrize(
    ("record", "readable"),
    [
        (Record(first_name="James", last_name="Martinez"), "Martinez James"),
        (Record(first_name="Ann", middle_name="B.", last_name="Lee"), "Lee Ann B"),  # no end dot
        (Record(file_as="Martinez, James", first_name="James"), "Martinez, James"),
        (Record(company="ACME <Inc>: a/b\\c|d?*"), "ACME Inc a b c d"),
        (Record(email1="ann@example.org"), "ann@example.org"),
        (Record(), "Contact"),
        (Record(last_name=" .. .hidden. . "), "hidden"),  # no hidden file, no trailing dot
        (Record(last_name="CON"), "_CON"),  # Windows device names
        (Record(last_name="com1.backup"), "_com1.backup"),
        (Record(last_name="LPT\u00b9"), "_LPT\u00b9"),
        (Record(last_name="Cone"), "Cone"),
        (Record(last_name="Ze\u0301lie\ttab\nline"), "Z\u00e9lie tab line"),  # NFC, one space
        (Record(last_name="\ud800x"), "x"),  # a lone surrogate cannot be in a name
    ],
)
def test_readable_names_are_safe_everywhere(record: Record, readable: str) -> None:
    uid = NewUids()()
    stem = readable_stem(record, uid)
    assert stem == f"{readable}-{suffix_of(uid)}"
    assert not set(stem) & WINDOWS_FORBIDDEN
    assert unicodedata.normalize("NFC", stem) == stem
    assert suffix_id(stem) == suffix_of(uid)  # the name gives back its item id
    assert decode_stem(stem) is None  # never taken for an older UID-named file


def test_readable_names_are_bounded() -> None:
    uid = NewUids()()
    for name in ("x" * 500, "ü" * 500, "😀" * 500, "a " * 300):
        stem = readable_stem(Record(last_name=name), uid)
        assert len(stem) <= 60 + 13 and len(stem.encode()) + len(".vcf") <= 255
        assert not stem[:-13].endswith((" ", "."))


def test_suffixes_sort_in_creation_order_and_differ_without_regard_to_case() -> None:
    new = NewUids()
    suffixes = [suffix_of(new()) for _ in range(20_000)]
    assert suffixes == sorted(suffixes)
    assert len({s.casefold() for s in suffixes}) == len(suffixes)
    assert all(SUFFIX.fullmatch(s) for s in suffixes[::997])


def test_names_of_other_programs_and_older_files_keep_their_ids() -> None:
    # An older file named after its UUID is never read as a readable name, even when its last
    # group looks like a suffix (digits only); names written by others have no suffix.
    assert suffix_id("Martinez James-06H4GK833800") == "06H4GK833800"
    old = "0193a1b2-7c3d-7e4f-8a5b-061234567890"
    assert decode_stem(old) == old
    for stem in ("John Doe", "John Doe-ABCDEFGHJKMN", "Report-2024", "x-06h4gk833800"):
        assert suffix_id(stem) is None, stem


def test_a_suffix_is_the_uids_time_and_counter_in_crockfords_base32() -> None:
    # By the definition, five bits at a time (the suffix is made ten bits a look-up).
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    new = NewUids()
    uids = [new() for _ in range(2_000)]
    uids += ["00000000-0000-7000-8000-000000000000", "ffffffff-ffff-7fff-bfff-ffffffffffff"]
    uids += [str(uuid.UUID(int=(n * 0x9E3779B97F4A7C15) % 2**128)) for n in range(2_000)]
    for uid in uids:
        digits = uid.replace("-", "")
        value = int(digits[:12], 16) << 12 | int(digits[13:16], 16)
        expected = "".join(alphabet[value >> (55 - 5 * i) & 31] for i in range(12))
        assert suffix_of(uid) == expected, uid
