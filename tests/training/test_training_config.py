"""Training config: YAML + overrides, strict keys, required fields, shipped configs."""

from pathlib import Path

import pytest

from uniimage.errors import ConfigError
from uniimage.training.config import TrainConfig, config_differences, fingerprint, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "uniimage" / "configs"
MINIMAL = {"output_dir": "/tmp/x", "model": {"preset": "tiny"}, "data": {"synthetic": {}}, "max_steps": 3}


def test_overrides_are_typed_and_nested(tmp_path):
    c = load_config(data=MINIMAL, overrides=["optim.lr=2e-4", "batch_size=8", "freeze.lora.targets=[dit, mllm]",
                                             "data.synthetic.n_edit=5", "resume=auto"])
    assert c.optim.lr == pytest.approx(2e-4) and isinstance(c.optim.lr, float)
    assert c.batch_size == 8 and c.data.synthetic.n_edit == 5 and c.resume == "auto"
    assert c.freeze.lora.targets == ["dit", "mllm"] and c.freeze.lora.rank == 16
    assert Path(c.output_dir).is_absolute()


@pytest.mark.parametrize("override, words", [
    ("optim.lrr=1", "optim.lrr"),
    ("bogus=1", "bogus"),
    ("batch_size=two", "batch_size"),
    ("loss.timestep_sampling=cubic", "timestep_sampling"),
    ("model.pretrained=/x", "exactly one"),
])
def test_bad_values_and_unknown_keys_are_errors(override, words):
    with pytest.raises(ConfigError, match=words):
        load_config(data=MINIMAL, overrides=[override])


@pytest.mark.parametrize("missing", ["output_dir", "model", "data", "max_steps"])
def test_missing_required_field(missing):
    data = {k: v for k, v in MINIMAL.items() if k != missing}
    with pytest.raises(ConfigError, match=f"missing required field `{missing}`"):
        load_config(data=data)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("output_dir: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(bad)


@pytest.mark.parametrize("path", sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*.yaml") if "accelerate" not in p.parts))
def test_shipped_configs_load(path):
    c = load_config(CONFIGS / path)
    assert isinstance(c, TrainConfig)
    if "/" not in path:  # top-level configs are the published recipe (REFERENCE.md section 5); tiny/, demo/ are CPU-sized
        o = c.optim
        assert (o.lr, o.betas, o.eps, o.weight_decay, o.warmup_steps, o.min_lr, o.max_grad_norm) == (1e-4, [0.9, 0.999], 1e-8, 0.05, 5000, 1e-5, 0.5)
        assert c.loss.timestep_sampling == "uniform" and c.loss.weighting == "none"
        assert c.gradient_checkpointing and c.precision in ("auto", "bf16")
        assert c.batch_size == {"t2i_pretrain.yaml": 16, "edit_pretrain.yaml": 4, "finetune.yaml": 4}[path]


def test_fingerprint_ignores_bookkeeping_only():
    a = load_config(data=MINIMAL)
    b = load_config(data=MINIMAL, overrides=["max_steps=9", "log.every=1", "checkpoint.keep=7", "output_dir=/tmp/y"])
    c = load_config(data=MINIMAL, overrides=["optim.lr=3e-4"])
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert config_differences(a.fingerprint_dict(), c.fingerprint_dict()) == ["optim.lr"]


def test_override_into_a_list_item():
    c = load_config(CONFIGS / "t2i_pretrain.yaml", ["data.datasets.0.path=/data/shards/{00000..00009}.tar"])
    assert c.data.datasets[0]["path"] == "/data/shards/{00000..00009}.tar"
    with pytest.raises(ConfigError, match="not an index"):
        load_config(CONFIGS / "t2i_pretrain.yaml", ["data.datasets.5.path=/x"])


def test_query_init_text_only_for_fresh_models():
    with pytest.raises(ConfigError, match="only for a fresh model"):
        load_config(data={**MINIMAL, "model": {"pretrained": "/x", "query_init": "text", "query_init_text": "are"}})
    with pytest.raises(ConfigError, match="is empty"):
        load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init": "text", "query_init_text": ""}})
    with pytest.raises(ConfigError, match="only with"):
        load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init_text": "are"}})
    with pytest.raises(ConfigError, match="random, zeros, noise or text"):
        load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init": "ones"}})


def test_query_init_text_sets_the_query_rows():
    import torch

    from uniimage.training.model_source import load_model

    c = load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init": "text", "query_init_text": "red circle"}})
    model, processor, _ = load_model(c.model)
    ids = processor.tokenizer("red circle", add_special_tokens=False).input_ids
    rows = model.query_embedding.weight[[ids[i % len(ids)] for i in range(model.config.num_metaqueries)]]
    assert torch.equal(model.queries, rows)
    plain, _, _ = load_model(load_config(data=MINIMAL).model)
    assert not torch.equal(plain.queries, rows)


def test_query_init_zeros():
    from uniimage.training.model_source import load_model

    model, _, _ = load_model(load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init": "zeros"}}).model)
    assert not model.queries.any() and model.query_embedding.weight.any()


def test_query_init_noise_is_small_zero_mean_and_seeded():
    import torch

    from uniimage.training.model_source import load_model

    def queries(seed, scale=0.1):
        model_cfg = {"preset": "tiny", "query_init": "noise", "query_init_scale": scale, "seed": seed}
        model, _, _ = load_model(load_config(data={**MINIMAL, "model": model_cfg}).model)
        return model.queries.detach(), model.query_embedding.weight.float().std(0)

    q, std = queries(0)
    assert torch.equal(q, queries(0)[0]) and not torch.equal(q, queries(1)[0])
    ratio = (q / std).std().item()  # per-channel scale relative to the vocabulary: about 0.1
    assert 0.07 < ratio < 0.13 and abs((q / std).mean().item()) < 0.03
    with pytest.raises(ConfigError, match="query_init_scale must be > 0"):
        load_config(data={**MINIMAL, "model": {"preset": "tiny", "query_init": "noise", "query_init_scale": 0}})
