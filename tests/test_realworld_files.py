"""The tests that read files written by real Outlook versions fail, never pass on nothing, when
those files are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

import realworld


def test_missing_real_files_fail_saying_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realworld, "REALWORLD", tmp_path / "shared" / "realworld")
    with pytest.raises(pytest.fail.Exception) as caught:
        realworld.real_vcards()
    assert str(tmp_path / "shared" / "realworld" / "vcard") in str(caught.value)


def test_the_real_files_are_here() -> None:
    assert len(list(realworld.real_vcards().glob("*.vcf"))) >= 5
