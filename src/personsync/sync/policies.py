"""The conflict policies by name, apart from the engine so the CLI can offer them without
loading it (a command's start-up stays light)."""

from __future__ import annotations

from typing import Literal

Policy = Literal["crm", "outlook", "newest", "skip"]
POLICIES: tuple[Policy, ...] = ("crm", "outlook", "newest", "skip")
