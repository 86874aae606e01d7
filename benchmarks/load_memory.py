"""Peak memory while loading a checkpoint, against the size of its weights.

    python benchmarks/load_memory.py [--preset small] [--dtype float32]

Saves the preset (random weights) once, then loads it in a fresh process and reports the peak
resident memory added by `UniImagePipeline.from_pretrained` divided by the weights' bytes. Loading
builds empty (meta) modules and assigns the file's tensors into them, so the ratio should stay near 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, torch
def peak_kb():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's peak across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
import uniimage.pipelines  # imports first, so their memory is not counted as loading
before = peak_kb()
from uniimage import UniImagePipeline
pipe = UniImagePipeline.from_pretrained(sys.argv[1], torch_dtype=getattr(torch, sys.argv[2]))
# safetensors maps the file lazily: read every parameter so its pages are really resident.
checksum = sum(float(p.detach().float().abs().sum()) for p in pipe.model.parameters())
after = peak_kb()
params = sum(p.numel() * p.element_size() for p in pipe.model.parameters())
print(json.dumps({"rss_before_kb": before, "rss_peak_kb": after, "param_bytes": params}))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="small")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    import torch

    from uniimage import UniImagePipeline

    with tempfile.TemporaryDirectory() as tmp:
        pipe = UniImagePipeline.from_pretrained(args.preset, torch_dtype=getattr(torch, args.dtype))
        pipe.save_pretrained(tmp)
        del pipe
        weights = sum(f.stat().st_size for f in Path(tmp).glob("*.safetensors"))
        out = subprocess.run([sys.executable, "-c", CHILD, tmp, args.dtype], capture_output=True, text=True, check=True)
        stats = json.loads(out.stdout.strip().splitlines()[-1])
    added = (stats["rss_peak_kb"] - stats["rss_before_kb"]) * 1024
    print(f"preset {args.preset} ({args.dtype}): weights on disk {weights / 2**20:.1f} MiB, "
          f"parameters {stats['param_bytes'] / 2**20:.1f} MiB")
    print(f"peak RSS added while loading: {added / 2**20:.1f} MiB  ->  ratio to weights {added / weights:.2f}x")


if __name__ == "__main__":
    main()
