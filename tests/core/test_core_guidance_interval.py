"""Guidance interval: CFG only at noise levels in [lo, hi], the conditional prediction alone elsewhere."""

import json

import pytest
import torch

from uniimage.config import UniImageConfig
from uniimage.errors import ConfigError, InputError
from uniimage.pipelines.guidance import guided_prediction, guided_steps


def run(pipe, **kw):
    kw.setdefault("num_inference_steps", 4)
    return pipe("a red circle", progress=False, output_type="np", generator=torch.Generator().manual_seed(3), **kw).images


def test_outside_the_interval_the_conditional_rows_are_taken_alone():
    u, c = torch.full((2, 3), 1.0), torch.full((2, 3), 5.0)
    assert torch.equal(guided_prediction(torch.cat([u, c]), 2, 4.5, 1.0, active=True), u + 4.5 * (c - u))
    assert torch.equal(guided_prediction(torch.cat([u, c]), 2, 4.5, 1.0, active=False), c)
    assert torch.equal(guided_prediction(torch.cat([u, u + 1, c]), 3, 4.5, 1.5, active=False), c)
    assert guided_steps([1.0, 0.9, 0.8, 0.5, 0.1], (0.0, 0.8)) == [False, False, True, True, True]
    assert guided_steps([1.0, 0.5], None) == [True, True]


def test_pipeline_interval_covers_plain_cfg_and_no_guidance(tiny_pipe):
    plain = run(tiny_pipe)
    assert (run(tiny_pipe, guidance_interval=(0.0, 1.0)) == plain).all()  # every step guided: plain CFG
    unguided = run(tiny_pipe, guidance_scale=1.0)  # the conditional rows alone at every step
    assert run(tiny_pipe, guidance_interval=(0.0, 1e-4)) == pytest.approx(unguided, abs=1e-5)
    # The first two of four steps (sigma 1.0, 0.9) unguided, the rest guided; a strong scale makes it show.
    strong, late = run(tiny_pipe, guidance_scale=20.0), run(tiny_pipe, guidance_scale=20.0, guidance_interval=(0.0, 0.8))
    assert abs(late - strong).max() > 1e-3 and abs(late - unguided).max() > 1e-3


def test_the_model_config_sets_the_default_and_a_call_overrides_it(tiny_pipe):
    late = run(tiny_pipe, guidance_interval=(0.0, 0.8))
    config = tiny_pipe.model.config
    try:
        config.guidance_interval = [0.0, 0.8]
        assert (run(tiny_pipe) == late).all()
        assert (run(tiny_pipe, guidance_interval=(0.0, 1.0)) == run(tiny_pipe, guidance_interval=(0, 1))).all()
        assert not (run(tiny_pipe, guidance_interval=(0.0, 1.0)) == late).all()
    finally:
        config.guidance_interval = None


@pytest.mark.parametrize("interval,match", [
    ((0.8, 0.2), r"0 <= lo < hi <= 1"),
    ((0.0, 1.5), r"0 <= lo < hi <= 1"),
    (("a", "b"), "two numbers"),
    ((0.1, 0.2, 0.3), "two numbers"),
])
def test_bad_intervals_are_refused_by_name(tiny_pipe, interval, match):
    with pytest.raises(InputError, match="guidance_interval must"):
        run(tiny_pipe, guidance_interval=interval)
    with pytest.raises(ConfigError, match=match):
        UniImageConfig(guidance_interval=list(interval))


def test_config_writes_the_interval_only_when_set(tmp_path):
    assert "guidance_interval" not in UniImageConfig().to_dict()  # published configs stay as they were
    UniImageConfig(guidance_interval=(0, 0.8)).to_json_file(tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["guidance_interval"] == [0.0, 0.8]
    assert UniImageConfig.from_json_file(tmp_path / "config.json").guidance_interval == [0.0, 0.8]
