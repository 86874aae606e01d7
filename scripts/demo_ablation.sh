#!/usr/bin/env bash
# Ladder vs final-layer conditioning at toy scale (docs/ablation.md): demo stage 1 with
# model.overrides.ladder=ladder|final, same budget, then ShapesEval t2i held-out (60 prompts).
#   scripts/demo_ablation.sh [STEPS] [SEEDS...]      default: 600 steps, seed 0
set -euo pipefail
cd "$(dirname "$0")/.."
UNIIMAGE="${UNIIMAGE:-.venv/bin/uniimage}"
STEPS="${1:-600}"; shift || true
SEEDS=("${@:-0}")
OUT=build/demo-runs/ablation
export OMP_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
mkdir -p "$OUT"
for seed in "${SEEDS[@]}"; do
  for mapping in ladder final; do
    run="$OUT/$mapping-s$seed"
    rm -rf "$run" "$run-export"
    nice -n 5 "$UNIIMAGE" train uniimage/configs/demo/t2i_pretrain.yaml output_dir="$run" \
      model.overrides.ladder="$mapping" model.seed="$seed" seed="$seed" max_steps="$STEPS" \
      optim.warmup_steps=50 checkpoint.every="$STEPS" > "$run.log" 2>&1
    "$UNIIMAGE" export "$run" "$run-export" > /dev/null 2>&1
    score=$(nice -n 5 "$UNIIMAGE" eval shapes --model "$run-export" --split heldout --task t2i --json --limit 60 2>/dev/null)
    echo "$mapping seed=$seed steps=$STEPS $(tail -n 1 "$run.log") $score" | tee -a "$OUT/results.txt"
  done
done
