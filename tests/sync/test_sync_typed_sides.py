"""The engine sees two typed sides (issue 12 §1): no database handle or connection typed `Any`
in `sync/`, nor in the shells that hand one to it (cli, jobs, persons, profiles, web), and the
one Persons side, `PersonsDB` (SQLite and PostgreSQL), has every member of
the `PersonsSide` protocol with the protocol's parameters (the engine's unit tests' stand-in,
`sync_fakes.FakePersonsDB`, has those they use). (mypy --strict checks the same where
the CLI hands a `PersonsDB` to the engine; this says which handle when it breaks.)"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

import pytest

from personsync.persons.repo import PersonsDB
from personsync.sync.persons_side import PersonsSide

HANDLES = {"db": "PersonsSide", "conn": ("Connection", "Connection | None")}


# Outside `sync/`, a handle is the protocol or the concrete `PersonsDB` (or, in the CLI, its
# `--db` option), the sync state's tables an `Engine`: never `Any`.
SHELLS = ("cli", "jobs", "persons", "profiles", "web")
SHELL_HANDLES = ("db", "pdb", "conn", "engine")


def _functions(package: str = "sync") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    path = importlib.import_module(f"personsync.{package}").__path__
    for info in pkgutil.walk_packages(path, f"personsync.{package}."):
        module = importlib.import_module(info.name)
        short = info.name.removeprefix("personsync.sync.")
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                out.append((f"{short}.{name}", obj))
            elif inspect.isclass(obj):
                out += [
                    (f"{short}.{name}.{m}", f)
                    for m, f in vars(obj).items()
                    if inspect.isfunction(f) or isinstance(f, staticmethod)
                ]
    return out


def test_no_handle_in_sync_is_typed_any() -> None:
    found = _functions()
    assert len(found) > 100  # the walk saw the engine's functions
    untyped = []
    for where, f in found:
        f = f.__func__ if isinstance(f, staticmethod) else f
        for param, want in HANDLES.items():
            given = f.__annotations__.get(param)
            if given is not None and given not in (want if isinstance(want, tuple) else (want,)):
                untyped.append(f"{where}({param}: {given})")
    assert not untyped


@pytest.mark.parametrize("package", SHELLS)
def test_no_handle_in_the_shells_is_typed_any(package: str) -> None:
    """Until 2026-12-06 the web console's scheduler and view pages, the job adapter, the
    profiles, the CSV import and the CLI's conflict questions took `db: Any`."""
    found = _functions(package)
    assert len(found) > 5  # the walk saw the package's functions
    untyped = []
    for where, f in found:
        f = f.__func__ if isinstance(f, staticmethod) else f
        for param in SHELL_HANDLES:
            given = f.__annotations__.get(param)
            if given is not None and re.search(r"\bAny\b", str(given)):
                untyped.append(f"{where}({param}: {given})")
    assert not untyped


def test_the_persons_db_has_the_protocols_members() -> None:
    side = PersonsDB
    members = [
        m for m in vars(PersonsSide) if not m.startswith("_") and callable(vars(PersonsSide)[m])
    ]
    assert "update_checked" in members and "transaction" in members
    for name in members:
        wanted = inspect.signature(getattr(PersonsSide, name)).parameters
        given = inspect.signature(getattr(side, name)).parameters
        assert set(wanted) <= set(given), f"{side.__name__}.{name}"
    assert isinstance(PersonsDB.new_version, str)
