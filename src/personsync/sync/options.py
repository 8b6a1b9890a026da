"""How one run goes: the options of `engine.run`, in one typed, frozen value.

What a run syncs (the Persons database, the contact folder, the direction, the view) are the
arguments of `engine.run`; how it goes is this. Frozen, so one `RunOptions` can be shared by many
runs in one process (the web console, the profile scheduler) without one run changing another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from personsync.errors import UsageError
from personsync.sync.policies import ContactDeleted, PersonRemoved, Policy

DEFAULT_SHARE = 0.5  # the mass-change guard's share: half of a non-empty side
DEFAULT_CHUNK = 500  # writes per journaled chunk


@dataclass(frozen=True)
class RunOptions:
    """Every default is the safe one: write, but stop at the mass-change guard; wait for nobody;
    settle conflicts by the folder's setting; keep contacts deleted in the folder deleted."""

    dry_run: bool = False
    """Plan only: nothing is written, no lease is taken; the outcome has no report."""

    yes: bool = False
    """Go past the mass-change guard without asking."""

    max_share: float = DEFAULT_SHARE
    """The mass-change guard: a run writing more than this share of a non-empty side asks first
    (a `GuardQuestion` event) and, unanswered, stops with MassChangeRefused."""

    wait: float = 0.0
    """Seconds to wait for another run of the same folder to end (else LeaseHeld at once)."""

    on_conflict: Policy | None = None
    """Who wins a field changed on both sides: None is the folder's setting, else the run's
    source (export: crm, import: outlook), and skip for a two-way sync."""

    field_policies: Mapping[str, Policy] = field(default_factory=lambda: MappingProxyType({}))
    """Per field over `on_conflict` (`personsync resolve`)."""

    explicit_choice: bool = False
    """`on_conflict` / `field_policies` are a person's choice for the conflicts of the pairs
    (`personsync resolve`): it overrides the guards "fill only if empty" and "never blank out"
    for them; a field whose direction bars the side chosen stays a decision, named so."""

    only_persons: frozenset[int] | None = None
    """Plan only the linked pairs of these Persons (None: all of them), and only their field
    writes (`resolve`: `Plan.settling`)."""

    only_fields: frozenset[str] = frozenset()
    """With `only_persons`: only these fields of them (empty: every field)."""

    recreate: bool = False
    """Create again the contacts deleted in the folder (default: they stay deleted and the
    report names their Persons)."""

    on_person_removed: PersonRemoved | None = None
    """A linked Person deleted from the CRM or gone from the view (export, sync): keep its
    contact (the link ends), tag it "Removed from CRM", or delete it. None: the folder's
    setting, else keep."""

    on_contact_deleted: ContactDeleted | None = None
    """A linked contact deleted in the folder (not moved out of it): keep the Person, or
    propagate (delete it too). None: the folder's setting, else keep."""

    crm_alone_creates: bool | None = None
    """Two-way: a new contact makes no Person (named once). None: the folder's setting, else
    False (both sides create)."""

    chunk: int = DEFAULT_CHUNK
    """Writes per journaled chunk; small ones give the crash tests more points to stop at."""

    folder_options: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Options of the contact folder's store, as `stores.open_folder` takes them: for `vcf:`,
    `write_helper_from` and `read_helper_from` (the batch sizes from which its helper processes
    write and read; the tests lower them so small folders go through the helpers)."""

    crash_after: int = 0
    """A TEST HOOK (`sync/crash.py`): the run kills its own process with SIGKILL at this
    checkpoint of the executor (0: never)."""

    def __post_init__(self) -> None:
        # Frozen all the way down: a caller's dict or set cannot change the options afterwards.
        object.__setattr__(self, "field_policies", MappingProxyType(dict(self.field_policies)))
        if self.only_persons is not None:
            object.__setattr__(self, "only_persons", frozenset(self.only_persons))
        object.__setattr__(self, "only_fields", frozenset(self.only_fields))
        object.__setattr__(self, "folder_options", MappingProxyType(dict(self.folder_options)))
        if self.chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {self.chunk}")


# The test hooks a command line may set (`--test-hooks`, hidden): a run's own options, so that a
# test can put a real `personsync export` process through small chunks, the helpers and a kill.
_FOLDER_HOOKS = ("write_helper_from", "read_helper_from")


def with_test_hooks(options: RunOptions, hooks: str) -> RunOptions:
    """`options` with the hooks of `hooks` ("chunk=3,crash_after=5,write_helper_from=1")."""
    own = {"chunk": options.chunk, "crash_after": options.crash_after}
    folder = dict(options.folder_options)
    for item in filter(None, hooks.split(",")):
        name, _, value = item.partition("=")
        if not value.isdigit() or name not in (*own, *_FOLDER_HOOKS):
            raise UsageError(f"--test-hooks: unknown test hook {item!r}")
        (own if name in own else folder)[name] = int(value)
    return replace(
        options, folder_options=folder, chunk=own["chunk"], crash_after=own["crash_after"]
    )
