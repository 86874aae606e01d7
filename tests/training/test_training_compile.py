"""`compile:` the DiT's repeated block through torch.compile, in place: the same steps as eager, the same
parameter names (checkpoints resume either way), and a clear error for an unknown backend."""

import pytest
from training_helpers import assert_same_trainable, tiny_config, trainable

from uniimage.errors import ConfigError
from uniimage.training import Trainer


def _compiled_blocks(trainer) -> int:
    return sum(b._compiled_call_impl is not None for b in trainer.model.transformer.transformer_blocks)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_steps_match_eager(tmp_path, shapes_jsonl, backend):
    eager = Trainer(tiny_config(tmp_path / "eager", shapes_jsonl, max_steps=3))
    eager_losses = eager.train()["losses"]
    compiled = Trainer(tiny_config(tmp_path / backend, shapes_jsonl, max_steps=3, compile=backend))
    assert _compiled_blocks(compiled) == len(compiled.model.transformer.transformer_blocks) > 0
    assert _compiled_blocks(eager) == 0
    assert compiled.train()["losses"] == pytest.approx(eager_losses, rel=1e-4)
    assert_same_trainable(trainable(eager), trainable(compiled), atol=2e-5)


def test_a_compiled_run_resumes_eager_and_keeps_its_names(tmp_path, shapes_jsonl):
    first = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, compile="aot_eager"))
    first.train(until=2)
    names = {n for n, _ in first.model.named_parameters()}
    assert not any("_orig_mod" in n for n in names)  # compiled in place: checkpoint keys as in eager
    resumed = Trainer(tiny_config(tmp_path, shapes_jsonl, max_steps=4, resume="auto"))  # compile is no part of the fingerprint
    assert resumed.step == 2 and {n for n, _ in resumed.model.named_parameters()} == names
    assert_same_trainable(trainable(first), trainable(resumed))


def test_unknown_backend_is_named(tmp_path, shapes_jsonl):
    with pytest.raises(ConfigError, match="compile must be null or a torch.compile backend.*'inductr'"):
        tiny_config(tmp_path, shapes_jsonl, compile="inductr")
