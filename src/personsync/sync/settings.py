"""A contact folder's settings, kept with its links: field rules, the default conflict policy,
and what deletes do (a Person removed from the CRM or the view, a contact deleted in the
folder, whether only the CRM creates).

`personsync rules show F` prints them; `personsync rules set F FIELD ...` changes one field's
rule, `personsync rules set F --on-conflict P` the folder's policy, `--on-person-removed`,
`--on-contact-deleted` and `--crm-alone-creates/--both-create` the delete settings. A run loads
them once; a run's own option overrides the folder's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine, delete, select

from personsync.errors import UsageError
from personsync.fields import require_fields
from personsync.sync.links import normalise_folder, now
from personsync.sync.merge import DEFAULT_RULE, FLOWS, FieldRule, Flow, policy
from personsync.sync.policies import (
    CONTACT_DELETED,
    PERSON_REMOVED,
    ContactDeleted,
    PersonRemoved,
    Policy,
    named,
)
from personsync.sync.tables import sync_folder_settings
from personsync.sync.values import dumps, loads


def person_removed(name: str | None) -> PersonRemoved | None:
    return named(name, PERSON_REMOVED, "--on-person-removed")


def contact_deleted(name: str | None) -> ContactDeleted | None:
    return named(name, CONTACT_DELETED, "--on-contact-deleted")


@dataclass(frozen=True)
class FolderSettings:
    rules: dict[str, FieldRule] = field(default_factory=dict)
    on_conflict: Policy | None = None
    # None: the default (keep, keep, both sides create).
    on_person_removed: PersonRemoved | None = None
    on_contact_deleted: ContactDeleted | None = None
    crm_alone_creates: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "on_conflict": self.on_conflict,
            "on_person_removed": self.on_person_removed,
            "on_contact_deleted": self.on_contact_deleted,
            "crm_alone_creates": self.crm_alone_creates,
            "rules": {name: rule.to_dict() for name, rule in sorted(self.rules.items())},
        }


def _flow(name: str) -> Flow:
    for known in FLOWS:
        if known == name:
            return known
    raise UsageError(f"unknown direction {name!r}", hint=f"use one of {', '.join(FLOWS)}")


def _from_dict(data: dict[str, Any]) -> FolderSettings:
    rules = {
        name: FieldRule(
            _flow(r.get("flow", "both")), r.get("never_blank"), bool(r.get("fill_only_if_empty"))
        )
        for name, r in data.get("rules", {}).items()
    }
    alone = data.get("crm_alone_creates")
    return FolderSettings(
        rules,
        policy(data.get("on_conflict")),
        person_removed(data.get("on_person_removed")),
        contact_deleted(data.get("on_contact_deleted")),
        None if alone is None else bool(alone),
    )


def load_settings(engine: Engine, folder: str) -> FolderSettings:
    t = sync_folder_settings
    with engine.connect() as conn:
        text = conn.execute(
            select(t.c.settings).where(t.c.folder == normalise_folder(folder))
        ).scalar()
    return _from_dict(loads(text) or {})


def save_settings(engine: Engine, folder: str, settings: FolderSettings) -> None:
    t = sync_folder_settings
    key = normalise_folder(folder)
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.folder == key))
        conn.execute(
            t.insert().values(folder=key, settings=dumps(settings.to_dict()), saved_at=now())
        )


def set_rule(
    engine: Engine,
    folder: str,
    name: str,
    *,
    flow: str | None = None,
    never_blank: bool | None = None,
    fill_only_if_empty: bool | None = None,
) -> FolderSettings:
    """Change one field's rule (what is not given stays); a rule back at the default goes."""
    require_fields([name])
    settings = load_settings(engine, folder)
    rule = settings.rules.get(name, DEFAULT_RULE)
    if flow is not None:
        rule = replace(rule, flow=_flow(flow))
    if never_blank is not None:
        rule = replace(rule, never_blank=never_blank)
    if fill_only_if_empty is not None:
        rule = replace(rule, fill_only_if_empty=fill_only_if_empty)
    rules = {**settings.rules, name: rule}
    if rule == DEFAULT_RULE:
        del rules[name]
    settings = replace(settings, rules=rules)
    save_settings(engine, folder, settings)
    return settings


def set_policy(engine: Engine, folder: str, name: str | None) -> FolderSettings:
    settings = replace(load_settings(engine, folder), on_conflict=policy(name))
    save_settings(engine, folder, settings)
    return settings


def set_deletes(
    engine: Engine,
    folder: str,
    *,
    on_person_removed: str | None = None,
    on_contact_deleted: str | None = None,
    crm_alone_creates: bool | None = None,
) -> FolderSettings:
    """Change the folder's delete settings (what is not given stays)."""
    settings = load_settings(engine, folder)
    if on_person_removed is not None:
        settings = replace(settings, on_person_removed=person_removed(on_person_removed))
    if on_contact_deleted is not None:
        settings = replace(settings, on_contact_deleted=contact_deleted(on_contact_deleted))
    if crm_alone_creates is not None:
        settings = replace(settings, crm_alone_creates=crm_alone_creates)
    save_settings(engine, folder, settings)
    return settings
