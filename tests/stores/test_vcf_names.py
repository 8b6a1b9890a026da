"""New card UIDs (`vcf_names.NewUids`): UUIDv7, unique and in creation order, so that the
database indexes they go into grow at their end."""

from __future__ import annotations

import copy
import time
import uuid

import pytest

from personsync.stores import vcf_names
from personsync.stores.vcf_names import NewUids, decode_stem


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
