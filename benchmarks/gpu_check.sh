#!/usr/bin/env bash
# One prepared GPU check for a lent H100/H200 (no network there): uniimage bench on tbac-uniimage-3b with
# random weights in bf16, plain (with the naive baseline), with model and sequential CPU offload, with the
# DiT compiled, and the 8-bit/4-bit MLLM condition check when bitsandbytes is carried.
#
# Wheels it needs in .whl/ (fetch here with the pip download line of the device README, --python-version 3.12):
#   transformers==5.24.0  diffusers==0.42.1  regex==2026.11.19  bitsandbytes==0.50.2 (optional: quant stage)
# (the image's own torch, accelerate, safetensors, tokenizers, huggingface_hub, numpy, pillow, pyyaml, tqdm are used)
# Run from the repo root, carrying .whl; results (JSON per stage + log) land in $OUT (or ./gpu_results).
set -uo pipefail
OUT="${OUT:-gpu_results}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/benchmarks:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, diffusers, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__, 'accelerate', accelerate.__version__)" | tee -a "$OUT/gpu.txt"
# Stages in order of importance; compile last (its warm-up is the slowest). STEPS/STAGES override.
timeout "${BENCH_TIMEOUT:-480}" python3 benchmarks/gpu_bench.py --out "$OUT" --steps "${STEPS:-20}" \
  --stages ${STAGES:-plain model sequential quant compile} 2>&1 | grep -v -E "Warning|warnings.warn|MatMul8bitLt" | tee "$OUT/log.txt"
rc=${PIPESTATUS[0]}
echo "exit $rc"
exit "$rc"
