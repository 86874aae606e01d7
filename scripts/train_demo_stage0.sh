#!/usr/bin/env bash
# Stage 0 of the demo model (issue 4): the pretrained bases, made at toy scale on ShapesEval's
# training split, deterministically (fixed seeds), on one CPU core under nice:
#   data (uniimage.shapes) -> tiny Qwen2.5-VL trained as a VLM (two phases: 1300 steps, then 1200 more
#   from the phase-1 weights with a fresh warmup/cosine and another batch order) -> tiny DC-AE -> SANA init
# Output: build/demo-base/{data,qwen,qwen-phase1,sana} and one log per step. See uniimage/demo/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-build/demo-base}"
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
stage0() { nice -n 10 "$PY" -m uniimage.demo.stage0 "$@" --out "$OUT" --threads 1; }

stage0 data > "$OUT/data.log" 2>&1
stage0 vlm --vlm-steps 1300 --seed 0 > "$OUT/vlm-phase1.log" 2>&1
rm -rf "$OUT/qwen-phase1" && mv "$OUT/qwen" "$OUT/qwen-phase1"
stage0 vlm --vlm-init "$OUT/qwen-phase1" --vlm-steps 1200 --seed 1 > "$OUT/vlm-phase2.log" 2>&1
stage0 vae > "$OUT/vae.log" 2>&1
stage0 sana > "$OUT/sana.log" 2>&1
stage0 check > "$OUT/check.log" 2>&1
grep -h "done in" "$OUT"/*.log
