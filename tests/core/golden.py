"""Where the golden fixtures (published-format tiny checkpoints with recorded outputs) are."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# They live in ../shared/fixtures beside the checkout; UNIIMAGE_FIXTURES overrides.
FIXTURES = Path(os.environ.get("UNIIMAGE_FIXTURES", REPO.parent / "shared" / "fixtures"))


def fixture_dirs() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("tbac-tiny-*") if (p / "cases.json").is_file())


def first_fixture() -> Path:
    """The first golden fixture; a clear failure (not an IndexError) when none is beside the checkout."""
    import pytest

    found = fixture_dirs()
    if not found:
        pytest.fail(f"no golden fixtures (tbac-tiny-*) in {FIXTURES}; set UNIIMAGE_FIXTURES", pytrace=False)
    return found[0]
