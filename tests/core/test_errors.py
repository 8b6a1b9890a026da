"""Errors name where things went wrong, in the user's words."""

from __future__ import annotations

from personsync.errors import FilterSyntaxError, FormatError, MassChangeRefused, PersonsyncError


def test_format_error_names_file_line_and_contact() -> None:
    exc = FormatError("unterminated quoted value", source="contacts.csv", line=12, name="Ann Lee")
    assert str(exc) == "contacts.csv, line 12 (Ann Lee): unterminated quoted value"
    assert exc.reason == "unterminated quoted value"


def test_filter_error_points_at_the_position() -> None:
    exc = FilterSyntaxError("unknown field 'stat'", expression='stat = "NY"', position=0)
    assert "position 1" in str(exc)
    assert exc.detail.splitlines() == ['stat = "NY"', "^"]


def test_exit_codes_differ_by_kind() -> None:
    assert PersonsyncError("x").exit_code == 1
    assert MassChangeRefused("x").exit_code == 3
