"""Where the files written by real Outlook versions are: `../shared/realworld/` beside the
repository. A test that needs them fails (never skips, never passes on nothing) when they are
missing, saying where they should be."""

from __future__ import annotations

from pathlib import Path

import pytest

REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld"


def real_vcards() -> Path:
    """The folder of real .vcf files; pytest.fail naming it when it holds none."""
    folder = REALWORLD / "vcard"
    if not any(folder.glob("*.vcf")):
        pytest.fail(
            f"the real-world vCards are missing: expected .vcf files written by Outlook in "
            f"{folder} (../shared/realworld/vcard beside the repository)",
            pytrace=False,
        )
    return folder
