#!/usr/bin/env bash
# Wheels a lent GPU machine needs for benchmarks/gpu_check.sh and scripts/train_demo_gpu.sh (it has no network;
# its image holds torch, accelerate, safetensors, tokenizers, huggingface_hub, peft, pillow, pyyaml, tqdm, numpy).
# Into .whl/ (ignored through .git/info/exclude), for its Python 3.12. Then name .whl in the device run's carry.
#   scripts/fetch_gpu_wheels.sh            # + FP8=1 for torchao (the fp8 stage)
set -euo pipefail
cd "$(dirname "$0")/.."
for p in /.whl/ /.demo-bases/; do grep -qx "$p" .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo "$p" >> .git/info/exclude; }; done
PKGS=(transformers==5.24.0 diffusers==0.42.1 regex==2026.11.19 torchdata==0.11.0 importlib_metadata)
[ -n "${FP8:-}" ] && PKGS+=(torchao==0.18.0)
PIP="${PIP:-python3 -m pip}"
for p in "${PKGS[@]}"; do
  $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
    -d .whl "$p"
done
ls -la .whl && du -sh .whl
