"""Fuzz: mutated Outlook files give contacts or FormatErrors, never a crash."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personsync.errors import FormatError, PersonsyncError
from personsync.formats import outlook_csv as codec
from personsync.model import Contact
from personsync.stores import open_folder
from personsync.stores.base import ReadProblem, read_all

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"
SAMPLES = sorted(FIXTURES.glob("*.csv"))
NASTY = [b'"', b",", b"\r\n", b"\n", b"\r", b'""', b"\x00", b"\xff", b"\xef\xbb\xbf", b"'="]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(out) + 1)
        action = rng.randrange(5)
        if action == 0:
            out[pos:pos] = rng.choice(NASTY)
        elif action == 1 and out:
            del out[pos : pos + rng.randint(1, 40)]
        elif action == 2 and pos < len(out):
            out[pos] = rng.randrange(256)
        elif action == 3:
            out = out[:pos]  # truncated, e.g. inside a quoted note
        else:
            start = rng.randrange(len(out) + 1)
            out[pos:pos] = out[start : start + rng.randint(1, 200)]
    return bytes(out)


def check(data: bytes, **options: object) -> int:
    """Read; return how many contacts came out. Any non-FormatError escapes and fails."""
    try:
        got = codec.read(data, source="fuzz.csv", **options)  # type: ignore[arg-type]
    except FormatError as exc:
        assert exc.source == "fuzz.csv" and exc.reason
        return 0
    for item in got:
        assert isinstance(item, Contact | FormatError)
        if isinstance(item, FormatError):
            assert item.line is not None and item.line >= 2
    return sum(isinstance(item, Contact) for item in got)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_thousands_of_mutations_only_format_errors(sample: Path) -> None:
    rng = random.Random(sample.name)
    original = sample.read_bytes()
    assert check(original) > 0
    read_something = 0
    for _ in range(1500):
        read_something += check(mutate(original, rng)) > 0
    assert read_something > 100  # most mutations spoil one row, not the file


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)
    check(b'"First Name","Notes"\r\n' + data)


def test_mutated_files_open_as_folders_without_crashing(tmp_path: Path) -> None:
    rng = random.Random(7)
    original = (FIXTURES / "outlook_classic_cp1252.csv").read_bytes()
    path = tmp_path / "c.csv"
    for _ in range(150):
        data = mutate(original, rng)
        path.write_bytes(data)
        try:
            store = open_folder(f"csv:{path}", create=False)
        except PersonsyncError:
            continue
        for item in read_all(store):
            assert isinstance(item, Contact | ReadProblem)
        store.close()
        assert path.read_bytes() == data  # reading never rewrites the file
