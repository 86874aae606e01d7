#!/usr/bin/env bash
# Ladder vs final-layer conditioning at toy scale (docs/ablation.md): demo stage 1 with
# model.overrides.ladder=ladder|final, same budget and seeds, then (a) the condition-use loss gap
# (right vs shuffled captions, uniimage.cli.conditions, 128 training pairs) and (b) ShapesEval
# t2i on 60 held-out and 60 training-split prompts.
#   scripts/demo_ablation.sh [STEPS] [SEEDS...]      default: 1000 steps, seeds 0 1 2
# RECIPE: extra overrides on top of t2i_pretrain.yaml. The default pins the recipe docs/ablation.md
# measured (v2: zero query rows, the 6000 stage-0 scenes); RECIPE="" runs the current stage-1 config.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
UNIIMAGE="${UNIIMAGE:-.venv/bin/uniimage}"
STEPS="${1:-1000}"; shift || true
RECIPE="${RECIPE-model.query_init=zeros data.datasets.0.path=build/demo-base/data/train.jsonl}"
if [ $# -gt 0 ]; then SEEDS=("$@"); else SEEDS=(0 1 2); fi
OUT=build/demo-runs/ablation
export OMP_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
mkdir -p "$OUT"
for seed in "${SEEDS[@]}"; do
  for mapping in ladder final; do
    run="$OUT/$mapping-s$seed"
    rm -rf "$run" "$run-export"
    # shellcheck disable=SC2086  # RECIPE is a list of overrides
    nice -n 5 "$UNIIMAGE" train uniimage/configs/demo/t2i_pretrain.yaml output_dir="$run" \
      model.overrides.ladder="$mapping" model.seed="$seed" seed="$seed" max_steps="$STEPS" \
      checkpoint.every="$STEPS" log.progress=false $RECIPE > "$run.log" 2>&1
    "$UNIIMAGE" export "$run" "$run-export" > /dev/null 2>&1
    gap=$(nice -n 5 "$PY" -m uniimage.cli.conditions "$run-export" build/demo-base/data/train.jsonl 2>/dev/null | tr -d ' \n')
    heldout=$(nice -n 5 "$UNIIMAGE" eval shapes --model "$run-export" --split heldout --task t2i --json --limit 60 2>/dev/null)
    train=$(nice -n 5 "$UNIIMAGE" eval shapes --model "$run-export" --split train --task t2i --json --limit 60 2>/dev/null)
    echo "$mapping seed=$seed steps=$STEPS | $(tail -n 1 "$run.log") | gap $gap | heldout $heldout | train $train" | tee -a "$OUT/results.txt"
  done
done
