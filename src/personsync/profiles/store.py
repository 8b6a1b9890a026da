"""Saved sync profiles in the Persons database: list, get, save, delete, and how runs went."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select, update

from personsync.errors import PersonsyncError, ProfileError
from personsync.jobs.engine_adapter import MODES, OPTIONS, SyncRequest, needs_view
from personsync.persons.repo import ALL_PERSONS
from personsync.profiles import schedule
from personsync.profiles.tables import sync_profiles
from personsync.stores import split_url

if TYPE_CHECKING:
    from personsync.sync.persons_side import PersonsSide


@dataclass(frozen=True)
class Profile:
    name: str
    direction: str
    folder: str
    view: str = ALL_PERSONS
    max_change: float = 50.0
    options: dict[str, str] = field(default_factory=dict)
    every_minutes: int | None = None
    cron: str | None = None
    enabled: bool = True
    created_at: datetime | None = None
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_run_id: str | None = None
    last_status: str | None = None
    last_error: str | None = None

    @property
    def request(self) -> SyncRequest:
        return SyncRequest(self.direction, self.folder, self.view, self.max_change, self.options)

    @property
    def schedule(self) -> str:
        return schedule.describe(self.every_minutes, self.cron)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


def now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes; every time here is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row_profile(row: Any) -> Profile:
    return Profile(
        name=row.name,
        direction=row.direction,
        folder=row.folder,
        view=row.view,
        max_change=float(row.max_change),
        options=json.loads(row.options or "{}"),
        every_minutes=row.every_minutes,
        cron=row.cron,
        enabled=bool(row.enabled),
        created_at=_aware(row.created_at),
        next_run_at=_aware(row.next_run_at),
        last_run_at=_aware(row.last_run_at),
        last_run_id=row.last_run_id,
        last_status=row.last_status,
        last_error=row.last_error,
    )


def list_profiles(engine: Engine) -> list[Profile]:
    with engine.connect() as conn:
        rows = conn.execute(select(sync_profiles).order_by(sync_profiles.c.name))
        return [_row_profile(r) for r in rows]


def get(engine: Engine, name: str) -> Profile:
    with engine.connect() as conn:
        row = conn.execute(select(sync_profiles).where(sync_profiles.c.name == name)).first()
    if row is None:
        known = ", ".join(repr(p.name) for p in list_profiles(engine)) or "none yet"
        raise ProfileError(f"no sync profile named {name!r}", hint=f"known profiles: {known}")
    return _row_profile(row)


def validate(db: PersonsSide, profile: Profile) -> list[ProfileError]:
    """Every problem of a profile, each naming its field (a form shows them beside the fields)."""
    problems: list[ProfileError] = []
    if not profile.name.strip():
        problems.append(ProfileError("a profile needs a name", field="name"))
    if profile.direction not in MODES:
        problems.append(
            ProfileError(
                f"unknown direction {profile.direction!r}",
                field="direction",
                hint=f"use one of: {', '.join(MODES)}",
            )
        )
    try:
        split_url(profile.folder)
    except PersonsyncError as exc:
        problems.append(ProfileError(exc.message, field="folder", hint=exc.hint))
    if needs_view(profile.direction):
        try:
            db.get_view(profile.view)
        except PersonsyncError as exc:
            problems.append(ProfileError(exc.message, field="view", hint=exc.hint))
    if not 0 <= profile.max_change <= 100:
        problems.append(ProfileError("the share is a percentage, 0 to 100", field="max_change"))
    for key, value in profile.options.items():
        if key not in OPTIONS or value not in OPTIONS[key][1]:  # value → meaning
            problems.append(ProfileError(f"unknown option {key}={value}", field="options"))
    try:
        schedule.check(profile.every_minutes, profile.cron)
    except ProfileError as exc:
        problems.append(exc)
    return problems


def save(db: PersonsSide, profile: Profile, *, replace_name: str | None = None) -> Profile:
    """Create a profile, or change the one named `replace_name` (it may be renamed).
    Raises the first problem `validate` finds; its next run is computed from now."""
    problems = validate(db, profile)
    if problems:
        raise problems[0]
    profile = replace(
        profile,
        name=profile.name.strip(),
        cron=profile.cron or None,
        next_run_at=schedule.next_after(profile.every_minutes, profile.cron, now()),
    )
    values = {
        "direction": profile.direction,
        "folder": profile.folder,
        "view": profile.view if needs_view(profile.direction) else "",
        "max_change": profile.max_change,
        "options": json.dumps(profile.options, sort_keys=True),
        "every_minutes": profile.every_minutes,
        "cron": profile.cron,
        "enabled": profile.enabled,
        "next_run_at": profile.next_run_at if profile.enabled else None,
    }
    t = sync_profiles
    with db.engine.begin() as conn:
        taken = conn.execute(select(t.c.name).where(t.c.name == profile.name)).first()
        if taken is not None and profile.name != replace_name:
            raise ProfileError(
                f"a profile named {profile.name!r} already exists",
                field="name",
                hint="choose another name, or edit that profile",
            )
        if replace_name is None:
            conn.execute(insert(t).values(name=profile.name, created_at=now(), **values))
        else:
            found = conn.execute(
                update(t).where(t.c.name == replace_name).values(name=profile.name, **values)
            ).rowcount
            if not found:
                raise ProfileError(f"no sync profile named {replace_name!r}")
    return get(db.engine, profile.name)


def delete_profile(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        gone = conn.execute(delete(sync_profiles).where(sync_profiles.c.name == name)).rowcount
    if not gone:
        get(engine, name)  # raises, naming the known profiles


def record_run(
    engine: Engine,
    profile: Profile,
    *,
    status: str,
    run_id: str | None,
    error: str | None,
    at: datetime,
) -> None:
    """How a run of `profile` went, and when the next is due (a failed run is retried then)."""
    following = schedule.next_after(profile.every_minutes, profile.cron, at)
    with engine.begin() as conn:
        conn.execute(
            update(sync_profiles)
            .where(sync_profiles.c.name == profile.name)
            .values(
                last_run_at=at,
                last_run_id=run_id,
                last_status=status,
                last_error=error,
                next_run_at=following if profile.enabled else None,
            )
        )


def due(engine: Engine, at: datetime) -> list[Profile]:
    """Enabled profiles whose next run time has come, oldest first."""
    t = sync_profiles
    query = (
        select(t)
        .where(t.c.enabled.is_(True), t.c.next_run_at.is_not(None), t.c.next_run_at <= at)
        .order_by(t.c.next_run_at, t.c.name)
    )
    with engine.connect() as conn:
        return [_row_profile(r) for r in conn.execute(query)]
