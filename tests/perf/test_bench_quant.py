"""8-bit / 4-bit MLLM: the wiring and its errors on a machine without CUDA (the real check is
benchmarks/gpu_check.sh)."""

import sys

import pytest
import torch

from bench_helpers import fresh_pipe  # noqa: F401 (fixture)
from uniimage.models.quantization import QuantizationError, check_quantization


def test_needs_cuda(fresh_pipe):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(QuantizationError, match="needs a CUDA device"):
        fresh_pipe.quantize_mllm("8bit")
    # Nothing was touched: the pipeline still draws.
    assert all(type(m).__module__.startswith("torch") or "bitsandbytes" not in type(m).__module__
               for m in fresh_pipe.model.mllm.modules())


def test_unknown_mode():
    with pytest.raises(QuantizationError, match="must be one of"):
        check_quantization("3bit", "cuda")


def test_missing_bitsandbytes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as if not installed
    with pytest.raises(QuantizationError, match=r"pip install 'uniimage\[quant\]'"):
        check_quantization("4bit", "cuda")


def test_from_pretrained_fails_before_loading(monkeypatch):
    from uniimage import UniImagePipeline
    import uniimage.presets as presets

    loaded = []
    monkeypatch.setattr(presets, "load_preset_or_checkpoint", lambda *a, **k: loaded.append(1))
    with pytest.raises(QuantizationError):
        UniImagePipeline.from_pretrained("tiny", mllm_quantization="8bit" if not torch.cuda.is_available() else "2bit")
    assert loaded == []


def test_quantize_error_exit_code_is_a_user_error():
    from uniimage.errors import UniImageError

    assert issubclass(QuantizationError, UniImageError)


def test_quantize_swaps_linears_with_a_stand_in(fresh_pipe, monkeypatch):
    """The swap itself, with a stand-in for bitsandbytes' layer (which needs CUDA to quantize)."""
    import uniimage.models.quantization as q

    monkeypatch.setattr(q, "check_quantization", lambda mode, device: None)
    made = []

    def fake(linear, mode, compute_dtype):
        made.append(mode)
        return torch.nn.Identity()

    monkeypatch.setattr(q, "_quantized_linear", fake)
    mllm = fresh_pipe.model.mllm
    linears = [n for n, m in mllm.named_modules() if type(m) is torch.nn.Linear and not n.endswith("lm_head")]
    swapped = fresh_pipe.model.quantize_mllm("8bit", device="cpu")
    assert swapped == len(linears) == len(made) > 0
    assert type(mllm.lm_head) is torch.nn.Linear  # the tied head stays: it is the embedding
    assert mllm.lm_head.weight is fresh_pipe.model.query_embedding.weight
    assert not any(type(m) is torch.nn.Linear for n, m in mllm.named_modules() if not n.endswith("lm_head"))
