import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
# Fixtures in the published format live in ../shared/fixtures (beside the checkout); UNIIMAGE_FIXTURES overrides.
FIXTURES = Path(os.environ.get("UNIIMAGE_FIXTURES", REPO.parent / "shared" / "fixtures"))


def fixture_dirs() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("tbac-tiny-*") if (p / "cases.json").is_file())


@pytest.fixture(scope="session")
def tiny_pipe():
    from uniimage import UniImagePipeline

    return UniImagePipeline.from_pretrained("tiny")
