"""Accuracy of an 8-bit / 4-bit MLLM, measured where it matters: the condition the DiT receives.

For each prompt, the full-precision condition [K, N, C] and the quantized one are compared by cosine
similarity (whole tensor, and the mean over the K*N query vectors). Needs CUDA and bitsandbytes.

    python benchmarks/quant_cosine.py --model tbac-uniimage-3b --modes 8bit 4bit --out quant.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from uniimage.perf.bench import PROMPTS, BenchSettings, load_bench_pipeline


@torch.no_grad()
def conditions(pipe, prompts: list[str]) -> list[torch.Tensor]:
    pipe.condition_cache.clear()
    return [pipe.encode_prompt([p], [[]])[0][:, 0].float().cpu() for p in prompts]


def cosine_report(reference: list[torch.Tensor], quantized: list[torch.Tensor]) -> dict:
    whole = [torch.nn.functional.cosine_similarity(r.flatten(), q.flatten(), dim=0).item() for r, q in zip(reference, quantized)]
    per_token = [torch.nn.functional.cosine_similarity(r, q, dim=-1).mean().item() for r, q in zip(reference, quantized)]
    worst = [torch.nn.functional.cosine_similarity(r, q, dim=-1).min().item() for r, q in zip(reference, quantized)]
    return {"cosine_mean": sum(whole) / len(whole), "cosine_min": min(whole),
            "per_token_cosine_mean": sum(per_token) / len(per_token), "per_token_cosine_worst": min(worst)}


def measure(settings: BenchSettings, modes: list[str], prompts: list[str]) -> dict:
    out = {"model": settings.model, "dtype": settings.dtype, "prompts": len(prompts), "modes": {}}
    for mode in modes:
        start = time.perf_counter()
        pipe = load_bench_pipeline(settings)  # same seed: the same full-precision weights every time
        reference = conditions(pipe, prompts)
        before = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
        pipe.quantize_mllm(mode, settings.device)
        torch.cuda.empty_cache()
        after = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
        out["modes"][mode] = {**cosine_report(reference, conditions(pipe, prompts)),
                              "gpu_bytes_full_model_before": before, "gpu_bytes_full_model_after": after,
                              "seconds": time.perf_counter() - start}
        del pipe
        torch.cuda.empty_cache()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tbac-uniimage-3b")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--modes", nargs="+", default=["8bit", "4bit"])
    p.add_argument("--prompts", type=int, default=len(PROMPTS))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    settings = BenchSettings(model=args.model, device=args.device, dtype=args.dtype)
    result = measure(settings, args.modes, PROMPTS[: args.prompts])
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        open(args.out, "w").write(text)


if __name__ == "__main__":
    main()
