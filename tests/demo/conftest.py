import pytest

from uniimage.shapes.dataset import write_dataset


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A handful of ShapesEval training rows at the test size (32 px), in the stage-0 layout."""
    out = tmp_path_factory.mktemp("demo") / "data"
    write_dataset(out, 12, 0, 12, split="train", image_size=32, formats=("jsonl",))
    return out
