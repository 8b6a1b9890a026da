"""`personsync persons import FILE.csv`: rows of Persons from a CSV file, bad rows reported.

The header names fields by their Person column (`first_name`), label (`First name`) or Outlook
CSV column (`First Name`), case-insensitively. Unknown columns are reported and ignored; a row
that cannot be read (wrong column count, a date that is not a date) is reported by its line
number and skipped; every good row is kept. Dates are YYYY-MM-DD, or in the order `date_order`
names (MDY 3/22/1980, DMY 22/3/1980, YMD), as for CSV contact folders.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from personsync.errors import FormatError
from personsync.fields import BY_NAME, FIELDS
from personsync.formats.outlook_csv import parse_date
from personsync.model import Record, coerce

_HEADER_NAMES: dict[str, str] = {}
for _spec in FIELDS:
    for _alias in (_spec.name, _spec.label, _spec.csv, *_spec.csv_aliases):
        _HEADER_NAMES.setdefault(_alias.strip().casefold(), _spec.name)


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # 1-based line of the file where the row starts
    message: str


@dataclass(slots=True)
class CsvRows:
    records: list[Record] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # line of each record
    problems: list[RowProblem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    encoding: str = "utf-8"


def read_csv(path: Path, date_order: str = "") -> CsvRows:
    """Parse the file; FormatError only when nothing can be read (no file, no header).
    `date_order` "" takes ISO dates only."""
    text, encoding = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    out = CsvRows(encoding=encoding)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise FormatError("the file is empty: expected a header row", source=str(path))
        columns = _columns(header, out)
        if not any(name for name in columns):
            raise FormatError(
                "no column names a Person field",
                source=str(path),
                line=1,
                hint="name columns like first_name,last_name,email1 (see docs/fields.md)",
            )
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            _row(row, line, columns, out, date_order)
    except csv.Error as exc:
        raise FormatError(f"not valid CSV: {exc}", source=str(path), line=reader.line_num) from exc
    return out


def _decode(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Outlook for Windows writes CSV in the ANSI code page, which is cp1252 in the West.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _columns(header: list[str], out: CsvRows) -> list[str | None]:
    columns: list[str | None] = []
    seen: set[str] = set()
    for raw in header:
        name = _HEADER_NAMES.get(raw.strip().casefold())
        if name is None or name in seen:
            if raw.strip():
                out.unknown_columns.append(raw.strip() + (" (repeated)" if name else ""))
            columns.append(None)
            continue
        seen.add(name)
        columns.append(name)
    return columns


def _row(
    row: list[str], line: int, columns: list[str | None], out: CsvRows, date_order: str
) -> None:
    if not any(cell.strip() for cell in row):
        return  # a blank line
    if len(row) != len(columns):
        out.problems.append(
            RowProblem(line, f"{len(row)} values but the header has {len(columns)} columns")
        )
        return
    values: dict[str, object] = {}
    for name, cell in zip(columns, row, strict=True):
        if name is None or not cell.strip():
            continue
        try:
            if date_order and BY_NAME[name].kind == "date":
                values[name] = parse_date(cell, date_order)  # type: ignore[arg-type]
            else:
                values[name] = coerce(name, cell)
        except ValueError:
            form = f"{date_order} order" if date_order else "YYYY-MM-DD"
            out.problems.append(RowProblem(line, f"{name}: {cell!r} is not a date ({form})"))
            return
    out.records.append(Record(**values))  # type: ignore[arg-type]
    out.lines.append(line)
