#!/usr/bin/env bash
# One prepared GPU check for a lent H100/H200 (no network there), about 8 minutes: tbac-uniimage-3b with
# random weights in bf16, 512 px, 20 steps, guidance 4.5, at batch 1/4/16 (issue 17):
#   plain (eager) | compiled (regional SANA block + VAE decoder) | graphs (+ CUDA graphs) | fp8 (torchao float8)
#   | graphs-full (CUDA graphs over the whole DiT forward; last, as its warm-up is the longest)
# with warm-up seconds, seconds per image by phase, peak memory and image agreement with plain (mean/max pixel
# difference; PSNR for fp8 over the 16 prompts of batch 16). One JSON per stage and table.txt land in $OUT;
# a failing stage is recorded and the next one runs. Older stages: STAGES="naive model sequential quant compile".
#
# Wheels it needs in .whl/ (fetch here with the pip download line of the device README, --python-version 3.12):
#   transformers==5.24.0  diffusers==0.42.1  regex==2026.11.19
#   torchao (optional: the fp8 stage; a wheel matching the image's torch)  bitsandbytes==0.50.2 (optional: quant)
# CPU dry run of the same driver (seconds): python benchmarks/gpu_bench.py --out /tmp/g --device cpu --preset tiny
#   --steps 2 --batches 1 2 --compile-backend eager   (graphs and fp8 then fail with their reasons, as they should)
# (the image's own torch, accelerate, safetensors, tokenizers, huggingface_hub, numpy, pillow, pyyaml, tqdm are used)
# Run from the repo root, carrying .whl; results (JSON per stage + log) land in $OUT (or ./gpu_results).
set -uo pipefail
OUT="${OUT:-benchmarks/results/gpu-$(date -u +%Y-%m-%d-%H%M)}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/benchmarks:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, diffusers, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__, 'accelerate', accelerate.__version__)" | tee -a "$OUT/gpu.txt"
python3 -c "import torchao; print('torchao', torchao.__version__)" 2>/dev/null | tee -a "$OUT/gpu.txt"
# Inductor's cache on the device's own disk: a second try in the same lease reuses the first one's kernels.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor-cache}"
# Stages in order of importance (plain first: the others are compared to it). STEPS/STAGES/BATCHES override.
timeout "${BENCH_TIMEOUT:-480}" python3 benchmarks/gpu_bench.py --out "$OUT" --steps "${STEPS:-20}" \
  --batches ${BATCHES:-1 4 16} --stages ${STAGES:-plain compiled graphs fp8 graphs-full} 2>&1 | grep -v -E "Warning|warnings.warn|MatMul8bitLt" | tee "$OUT/log.txt"
rc=${PIPESTATUS[0]}
echo "exit $rc"
exit "$rc"
