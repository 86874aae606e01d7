#!/usr/bin/env bash
# Stage 0 of the demo model (issue 4): the pretrained bases, made at toy scale on ShapesEval's
# training split, deterministically (fixed seeds), one thread per process under nice (the VAE beside the VLM):
#   data (uniimage.shapes) -> tiny Qwen2.5-VL trained as a VLM in phases (each a warmup + cosine run
#   continuing from the previous phase's weights, with its own batch order) -> tiny DC-AE -> SANA init
# Output: build/demo-base/{data,qwen,qwen-phaseN,sana} and one log per step. See uniimage/demo/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-build/demo-base}"
VLM_PHASES="${VLM_PHASES:-1300 1200 1500}"  # steps of 16 per phase; phase k uses seed k-1
# v10 (uniimage/demo/README.md, "Stage 0 again"): the text model's rotary base is 10, so image tokens' column
# positions turn enough to be told apart (1e4, Qwen's base, left them at <= 0.0032 rad per column at head
# size 32); after phase 1 the vision tower also learns what each of its 4 x 4 cells holds (per-cell heads,
# a training aid that is not shipped). v9's stage 0 had neither (ROPE_THETA=10000 CELL_WEIGHT=0), and it ran
# before 50346cd gave image tokens their 3D positions, so this script no longer remakes it exactly.
ROPE_THETA="${ROPE_THETA:-10}"
CELL_WEIGHT="${CELL_WEIGHT:-1}"
TOWER_STEPS="${TOWER_STEPS:-2000}"   # the tower phase (below; 0: none), steps of TOWER_BATCH (v16: 1500 x 16)
TOWER_BATCH="${TOWER_BATCH:-32}"
# CELL_POSITIONS=1: the per-cell heads also read each token's (row, column), so the tower's tokens say where they are (Qwen's
# vision rotary is relative). The edit cell slots need it: query q copies image cell q (demo README, "Edit slots
# by grid cell": 65 whole target scenes of 200 with it, 27 without). train_demo.sh sets it with EDIT_CELLS=1.
CELL_POSITIONS="${CELL_POSITIONS:-0}"
positions=(); [ "$CELL_POSITIONS" = 1 ] && positions=(--cell-positions)
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
stage0() { nice -n 10 "$PY" -m uniimage.cli.demo_stage0 "$@" --out "$OUT" --threads 1; }

stage0 data > "$OUT/data.log" 2>&1
# The VAE needs only the scenes: it trains on the second core while the VLM phases run (one thread each, so
# the results do not depend on it; stage 0 takes about 45 min instead of 1 h).
nice -n 10 "$PY" -m uniimage.cli.demo_stage0 vae --out "$OUT" --threads 1 > "$OUT/vae.log" 2>&1 &   # $! is the trainer
vae=$!
trap 'kill "$vae" 2>/dev/null || true' EXIT   # a failed VLM phase does not leave it running
phase=0
for steps in $VLM_PHASES; do
  phase=$((phase + 1))
  init=(--rope-theta "$ROPE_THETA")  # phase 1 builds the model; later phases keep its config
  if [ "$phase" -gt 1 ]; then
    rm -rf "$OUT/qwen-phase$((phase - 1))" && mv "$OUT/qwen" "$OUT/qwen-phase$((phase - 1))"
    init=(--vlm-init "$OUT/qwen-phase$((phase - 1))" --cell-weight "$CELL_WEIGHT" ${positions[@]+"${positions[@]}"})
  fi
  stage0 vlm "${init[@]}" --vlm-steps "$steps" --seed $((phase - 1)) > "$OUT/vlm-phase$phase.log" 2>&1
done
# The tower phase (v16; TOWER_STEPS), after the last phase: only the vision tower trains, on
# the answers and the per-cell loss at TOWER_CELL_WEIGHT (positions as CELL_POSITIONS), so its tokens say which
# shape each cell holds (0.72 -> 0.887 per cell; the edit cell slots need it: demo README, "Edit cell slots need a
# tower that tells shapes apart"). v17: 2000 steps of 32 (about 13 min), shape per cell 0.944 (v16's 1500 x 16, about
# 6 min: 0.887); edits rise from 0.40 to 0.52 and moves work (demo README, "A longer tower phase", "Demo v17").
if [ "$TOWER_STEPS" -gt 0 ]; then
  rm -rf "$OUT/qwen-phase$phase" && mv "$OUT/qwen" "$OUT/qwen-phase$phase"
  stage0 vlm --vlm-init "$OUT/qwen-phase$phase" --cell-weight "${TOWER_CELL_WEIGHT:-4}" ${positions[@]+"${positions[@]}"} \
    --tower-only --vlm-steps "$TOWER_STEPS" --vlm-batch "$TOWER_BATCH" --seed "$phase" > "$OUT/vlm-tower.log" 2>&1
fi
wait "$vae"
stage0 sana > "$OUT/sana.log" 2>&1
stage0 check > "$OUT/check.log" 2>&1
grep -h "done in" "$OUT"/*.log
