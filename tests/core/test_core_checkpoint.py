"""Checkpoint I/O: published layout, round trips, and every way a checkpoint can be wrong."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from golden import first_fixture
from uniimage import UniImagePipeline
from uniimage.checkpoint.save import published_state
from uniimage.errors import CheckpointError, ConfigError

FIXTURE = first_fixture()


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory, tiny_pipe):
    folder = tmp_path_factory.mktemp("tiny-ckpt")
    tiny_pipe.save_pretrained(folder)
    return folder


def fixture_copy(tmp_path) -> Path:
    """The fixture laid out as published: checkpoint/ beside base/ (relative ids resolve from there)."""
    root = tmp_path / "fx"
    shutil.copytree(FIXTURE / "base", root / "base")
    shutil.copytree(FIXTURE / "checkpoint", root / "checkpoint")
    return root / "checkpoint"


def test_save_writes_published_layout_and_round_trips_bit_exact(saved_tiny, tiny_pipe):
    config = json.loads((saved_tiny / "config.json").read_text())
    assert config["model_type"] == "tbacuniimage" and config["mllm_id"] == "mllm"
    keys = load_file(saved_tiny / "model.safetensors").keys()
    assert "model.mllm_backbone.model.embed_tokens.weight" in keys
    assert not any("lm_head" in k for k in keys)
    assert any(k.startswith("model.mllm_backbone.visual.") for k in keys)
    assert any(k.startswith("model.connector.3") for k in keys) and any(k.startswith("vae.decoder.") for k in keys)
    loaded = UniImagePipeline.from_pretrained(saved_tiny)
    ours, theirs = tiny_pipe.model.state_dict(), loaded.model.state_dict()
    assert ours.keys() == theirs.keys()
    for k in ours:
        assert torch.equal(ours[k], theirs[k]), k
    assert torch.equal(loaded.model.queries, tiny_pipe.model.queries)


def test_saved_model_generates_the_same_image(saved_tiny, tiny_pipe):
    loaded = UniImagePipeline.from_pretrained(saved_tiny)
    args = dict(num_inference_steps=3, output_type="np", progress=False)
    a = tiny_pipe("a red circle", generator=torch.Generator().manual_seed(3), **args).images
    b = loaded("a red circle", generator=torch.Generator().manual_seed(3), **args).images
    assert (a == b).all()


def test_sharded_save_has_index_and_loads(tmp_path, tiny_pipe):
    tiny_pipe.save_pretrained(tmp_path, max_shard_size=200_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and not (tmp_path / "model.safetensors").exists()
    loaded = UniImagePipeline.from_pretrained(tmp_path)
    assert torch.equal(loaded.model.transformer.proj_out.weight, tiny_pipe.model.transformer.proj_out.weight)


def test_fixture_round_trip_reproduces_its_file_bit_exact(tmp_path):
    ckpt = fixture_copy(tmp_path)
    pipe = UniImagePipeline.from_pretrained(ckpt)
    ours = {k: v for k, v in published_state(pipe.model).items()}
    with safe_open(str(FIXTURE / "checkpoint" / "model.safetensors"), "pt") as f:
        assert set(f.keys()) == set(ours)
        for k in f.keys():
            assert torch.equal(f.get_tensor(k), ours[k]), k


def test_fixture_keys_file_matches_our_layout(tmp_path):
    pipe = UniImagePipeline.from_pretrained(fixture_copy(tmp_path))
    listed = {}
    for line in (FIXTURE / "keys.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape, _ = line.split("\t")
            listed[key] = tuple(json.loads(shape.replace("(", "[").replace(")", "]").replace(",]", "]")))
    ours = {k: tuple(v.shape) for k, v in published_state(pipe.model).items()}
    assert ours == listed


def test_metaquery_model_type_is_accepted_and_architectures_ignored(tmp_path):
    ckpt = fixture_copy(tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    config["model_type"] = "metaquery"
    config["architectures"] = ["SomethingElse"]
    (ckpt / "config.json").write_text(json.dumps(config))
    assert UniImagePipeline.from_pretrained(ckpt).model.config.model_type == "metaquery"


def test_missing_checkpoint_path():
    with pytest.raises(CheckpointError, match="not found"):
        UniImagePipeline.from_pretrained("/nonexistent/checkpoint")


def test_config_lacking_fields(tmp_path):
    ckpt = fixture_copy(tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    del config["num_metaqueries"], config["input_size"]
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="num_metaqueries, input_size"):
        UniImagePipeline.from_pretrained(ckpt)


def test_unknown_model_type(tmp_path):
    ckpt = fixture_copy(tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    config["model_type"] = "llama"
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="model_type 'llama'"):
        UniImagePipeline.from_pretrained(ckpt)


def rewrite_weights(ckpt: Path, edit):
    state = load_file(ckpt / "model.safetensors")
    edit(state)
    save_file(state, ckpt / "model.safetensors")


def test_missing_key_is_listed(tmp_path):
    ckpt = fixture_copy(tmp_path)
    rewrite_weights(ckpt, lambda s: s.pop("model.connector.2.weight"))
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): connector.2.weight"):
        UniImagePipeline.from_pretrained(ckpt)


def test_unexpected_key_is_listed(tmp_path):
    ckpt = fixture_copy(tmp_path)
    rewrite_weights(ckpt, lambda s: s.__setitem__("model.extra_head.weight", torch.zeros(2)))
    with pytest.raises(CheckpointError, match="model.extra_head.weight"):
        UniImagePipeline.from_pretrained(ckpt)


def test_wrong_shape_is_listed(tmp_path):
    ckpt = fixture_copy(tmp_path)
    rewrite_weights(ckpt, lambda s: s.__setitem__("model.connector.3.weight", torch.ones(7)))
    with pytest.raises(CheckpointError, match=r"connector.3.weight \(7,\) \(model wants \(\d+,\)\)"):
        UniImagePipeline.from_pretrained(ckpt)


def test_truncated_weights_file(tmp_path):
    ckpt = fixture_copy(tmp_path)
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read weights file"):
        UniImagePipeline.from_pretrained(ckpt)


def test_pickle_weights_are_refused_not_opened(tmp_path):
    ckpt = fixture_copy(tmp_path)
    (ckpt / "model.safetensors").unlink()
    (ckpt / "pytorch_model.bin").write_bytes(b"not even opened")
    with pytest.raises(CheckpointError, match="never unpickles"):
        UniImagePipeline.from_pretrained(ckpt)


def test_missing_base_component(tmp_path):
    ckpt = fixture_copy(tmp_path)
    with pytest.raises(CheckpointError, match="neither a local folder"):
        UniImagePipeline.from_pretrained(ckpt, mllm_id="./no-such-qwen")


def test_overrides_point_at_other_component_folders(tmp_path):
    ckpt = fixture_copy(tmp_path)
    moved = tmp_path / "elsewhere"
    shutil.move(str(ckpt.parent / "base"), moved)
    pipe = UniImagePipeline.from_pretrained(ckpt, mllm_id=str(moved / "Qwen2.5-VL-tiny"), diffusion_model_id=str(moved / "Sana-tiny"),
                                            vae_id=str(moved / "Sana-tiny"), scheduler_id=str(moved / "Sana-tiny"),
                                            noise_scheduler_id=str(moved / "Sana-tiny"))
    assert pipe.model.config.mllm_id.endswith("Qwen2.5-VL-tiny")


def test_loading_never_initialises_real_tensors(saved_tiny, monkeypatch):
    """Weights go straight from the file into empty modules: no random init touches a real tensor."""
    real_inits = []
    for name in ("normal_", "uniform_", "zero_", "fill_", "copy_"):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            if self.device.type != "meta" and self.numel() > 1000:
                real_inits.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    UniImagePipeline.from_pretrained(saved_tiny)
    assert real_inits == []
