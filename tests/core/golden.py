"""Where the golden fixtures (published-format tiny checkpoints with recorded outputs) are.

The public one, tbac-tiny-a, lives in the repository (tests/fixtures/), so a clone tests itself with
nothing beside it. UNIIMAGE_FIXTURES may name more folders (os.pathsep-separated) holding other
tbac-tiny-* fixtures, e.g. other sizes; they are tested too. A name already found is not tested twice.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IN_REPO = REPO / "tests" / "fixtures"


def roots() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("UNIIMAGE_FIXTURES", "").split(os.pathsep) if p]
    return [IN_REPO, *extra]


def fixture_dirs() -> list[Path]:
    found: dict[str, Path] = {}
    for root in roots():
        for p in sorted(root.glob("tbac-tiny-*")):
            if (p / "cases.json").is_file():
                found.setdefault(p.name, p)
    return list(found.values())


def first_fixture() -> Path:
    """The first golden fixture; a clear failure (not an IndexError) when none is found."""
    import pytest

    found = fixture_dirs()
    if not found:
        where = ", ".join(str(r) for r in roots())
        pytest.fail(f"no golden fixtures (tbac-tiny-*/cases.json) in {where}", pytrace=False)
    return found[0]
