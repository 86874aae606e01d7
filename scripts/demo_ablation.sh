#!/usr/bin/env bash
# Ladder vs final-layer conditioning at toy scale (docs/ablation.md): demo stage 1 with
# model.overrides.ladder=ladder|final, same budget and seeds, then (a) the condition-use loss gap
# (right vs shuffled captions, uniimage.cli.conditions, 128 training pairs) and (b) ShapesEval
# t2i on 60 held-out and 60 training-split prompts.
#   scripts/demo_ablation.sh [STEPS] [SEEDS...]      default: 3000 steps, seeds 0 1 2
# CONFIG: the stage-1 config (default: the current recipe, t2i_slots.yaml, from stage 0b's slot model, which
# scripts/train_demo.sh makes). RECIPE: extra overrides. MAPPINGS: which mappings to run (default both), so the
# two can run side by side, one per core. A run stopped part way resumes from its last checkpoint.
# The first table in docs/ablation.md (v2 recipe, 1000 steps) came from:
#   CONFIG=uniimage/configs/demo/t2i_pretrain.yaml DATA=build/demo-base/data/train.jsonl \
#   RECIPE="model.query_init=zeros data.datasets.0.path=build/demo-base/data/train.jsonl" scripts/demo_ablation.sh 1000
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
UNIIMAGE="${UNIIMAGE:-.venv/bin/uniimage}"
STEPS="${1:-3000}"; shift || true
CONFIG="${CONFIG:-uniimage/configs/demo/t2i_slots.yaml}"
DATA="${DATA:-build/demo-base/data-t2i/train_ro.jsonl}"   # the pairs the loss gap is measured on
RECIPE="${RECIPE-}"
read -ra MAPS <<< "${MAPPINGS:-ladder final}"
if [ $# -gt 0 ]; then SEEDS=("$@"); else SEEDS=(0 1 2); fi
OUT="${OUT:-build/demo-runs/ablation-$(basename "$CONFIG" .yaml)-$STEPS}"
export OMP_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
mkdir -p "$OUT"
for seed in "${SEEDS[@]}"; do
  for mapping in "${MAPS[@]}"; do
    run="$OUT/$mapping-s$seed"
    if grep -q "^$mapping seed=$seed " "$OUT/results.txt" 2>/dev/null; then continue; fi   # measured already
    # shellcheck disable=SC2086  # RECIPE is a list of overrides
    nice -n 5 "$UNIIMAGE" train "$CONFIG" output_dir="$run" resume=auto \
      model.overrides.ladder="$mapping" model.seed="$seed" seed="$seed" max_steps="$STEPS" \
      checkpoint.every=1000 log.progress=false $RECIPE >> "$run.log" 2>&1
    rm -rf "$run-export"
    "$UNIIMAGE" export "$run" "$run-export" > /dev/null 2>&1
    gap=$(nice -n 5 "$PY" -m uniimage.cli.conditions "$run-export" "$DATA" 2>/dev/null | tr -d ' \n')
    heldout=$(nice -n 5 "$UNIIMAGE" eval shapes --model "$run-export" --split heldout --task t2i --json --limit 60 2>/dev/null)
    train=$(nice -n 5 "$UNIIMAGE" eval shapes --model "$run-export" --split train --task t2i --json --limit 60 2>/dev/null)
    echo "$mapping seed=$seed steps=$STEPS | $(tail -n 1 "$run.log") | gap $gap | heldout $heldout | train $train" | tee -a "$OUT/results.txt"
  done
done
