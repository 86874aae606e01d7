import pytest

from uniimage.checkpoint.pretrained import from_components

from uniimage.demo import train_vae as vae_trainer
from uniimage.demo import train_vlm as vlm_trainer
from uniimage.demo.sana_init import write_sana
from uniimage.demo.sizes import TEST
from uniimage.shapes.dataset import write_dataset


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A handful of ShapesEval training rows at the test size (32 px), in the stage-0 layout."""
    out = tmp_path_factory.mktemp("demo") / "data"
    write_dataset(out, 12, 0, 12, split="train", image_size=32, formats=("jsonl",))
    return out


@pytest.fixture(scope="session")
def bases(demo_data, tmp_path_factory):
    """Stage-0 bases at the test size (2 steps each): out/qwen, out/sana/{transformer,vae,scheduler}."""
    out = tmp_path_factory.mktemp("bases")
    vlm = vlm_trainer.train_vlm(demo_data, out / "qwen", TEST, steps=2, batch=4, eval_n=0, tokenizer_texts=30)
    vae = vae_trainer.train_vae(demo_data, out / "sana" / "vae", TEST, steps=2, batch_size=4, eval_n=0)
    write_sana(out / "sana", TEST, out / "sana" / "vae")
    return out, vlm, vae


@pytest.fixture()
def tiny(bases):
    """A fresh UniImage model on the stage-0 bases (4 queries): (model, processor, components)."""
    out, _, _ = bases
    return from_components(str(out / "qwen"), str(out / "sana"), num_metaqueries=4)
