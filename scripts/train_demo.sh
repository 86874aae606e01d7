#!/usr/bin/env bash
# The whole demo model (issue 4): stage 0 (pretrained bases, scripts/train_demo_stage0.sh), the editing
# data, stage 0b (query slots), then the stages with `uniimage train` (uniimage/configs/demo/*.yaml) and `uniimage export` into
# the package's embedded default model, uniimage/presets/demo/. ShapesEval TRAINING split only.
#   scripts/train_demo.sh                 # everything
#   SKIP_STAGE0=1 scripts/train_demo.sh   # reuse build/demo-base
#   BASES_FROM=DIR scripts/train_demo.sh  # stage 0's MLLM and VAE taken out of a trained model whose MLLM is
#                                         # stage 0's (v4, whose MLLM stayed frozen: `git worktree add /tmp/v4
#                                         # 25c2e75`, DIR=/tmp/v4/uniimage/presets/demo), a fresh DiT and the
#                                         # scenes: stage 0 in a minute. Not v5 or v6 (`demo`): their MLLM was trained on.
# Logs: build/demo-runs/*.log. Runs: build/demo-runs/<stage>.
# Extra `key=value` overrides for every stage can be passed in STAGE_ARGS (e.g. "batch_size=8"), for one stage
# in STAGE_ARGS_<stage> (e.g. STAGE_ARGS_t2i_joint="max_steps=100"). N_T2I / N_EDIT / STAGE0_DATA_ARGS size the
# rendered data, LATENT_SHARD the samples per shard of the cached latents (each set needs PROCS shards or more),
# SHIP names the folder the model is exported to (scripts/train_demo_gpu.sh sets them all).
# A chain longer than one sitting: `SKIP_STAGE0=1 RESUME=1 scripts/train_demo.sh` keeps what is done (stage 0, the
# data, the slot model and the latents are skipped when present) and continues stage 1 and the joint stage from
# their newest checkpoint (every 1000 / 500 steps) instead of starting them over. build/demo-runs/timeline.log gets
# a UTC time stamp as each step starts and ends, so the wall time of a chain split over sittings adds up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
read -ra UNIIMAGE <<< "${UNIIMAGE:-.venv/bin/uniimage}"   # a command line: "python3 -m uniimage.cli.main" works
THREADS="${THREADS:-2}"
# Processes per training stage (stage 1, the joint stage, stage 4): PROCS > 1 runs each as that many gloo DDP
# processes under torchrun, THREADS / PROCS threads each. Stages 1 and 3 take batch_size per process (so the global
# batch is PROCS x batch_size); stage 4 splits its batch of 16 over them. On the 2-core machine 2 processes train
# 1.75x the samples a second of one process in stage 1, 1.10x in stage 4 (demo README).
PROCS="${PROCS:-2}"
BASE=build/demo-base
# EDIT_CELLS=1 (v15; 0 for v14's recipe): edits get a query per grid cell of the target scene (uniimage/demo/edit_cells.py;
# demo README, "Edit slots by grid cell"). It needs three parts together: stage 0's tower learns where each image
# token is (CELL_POSITIONS), an added object has a fixed place in the editing data (--edit-add-grid 4), and the
# slot stage trains the edit cell slots beside the t2i slots (2000 steps; --attend-cell: query q's head 2 looks at
# image cell q).
EDIT_CELLS="${EDIT_CELLS:-1}"
EDIT_GRID=4   # the 16 queries' 4 x 4 grid
RUNS=build/demo-runs
SHIP="${SHIP:-uniimage/presets/demo}"
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" PYTHONHASHSEED=0
# Stage 4's runs, STEPS:SEED each (below). Checked here, so a wrong value stops the chain before hours of training.
ANSWER_ROUNDS="${ANSWER_ROUNDS-6000:0 3000:0 6000:1 6000:2 6000:3}"
case "${ANSWER_STEPS:-}" in
  "") ;;
  0) ANSWER_ROUNDS="" ;;
  *) echo "ANSWER_STEPS=$ANSWER_STEPS: stage 4 now runs in ANSWER_ROUNDS (STEPS:SEED ...); ANSWER_STEPS=0 only skips it" >&2; exit 2 ;;
esac
for r in $ANSWER_ROUNDS; do
  [[ "$r" =~ ^[1-9][0-9]*:[0-9]+$ ]] || { echo "ANSWER_ROUNDS: '$r' is not STEPS:SEED (e.g. 6000:0)" >&2; exit 2; }
done
mkdir -p "$RUNS"
mark() { echo "$(date -u +%FT%TZ) $*" >> "$RUNS/timeline.log"; }
mark "chain start (PROCS=$PROCS THREADS=$THREADS RESUME=${RESUME:-})"

if [ -n "${BASES_FROM:-}" ]; then
  for step in bases sana data; do
    # shellcheck disable=SC2086
    "$PY" -m uniimage.cli.demo_stage0 "$step" --from "$BASES_FROM" --out "$BASE" --threads "$THREADS" ${STAGE0_DATA_ARGS:-} \
      > "$RUNS/stage0-$step.log" 2>&1
  done
elif [ -z "${SKIP_STAGE0:-}" ]; then
  mark "stage 0 start"
  CELL_POSITIONS="$EDIT_CELLS" scripts/train_demo_stage0.sh
  mark "stage 0 end"
fi
# Stage 1/3 text-to-image scenes: 40000 training-split scenes at 64 px (stage 0's 6000 trained the VLM;
# more distinct scenes for the DiT's 192k samples).
if [ ! -f "$BASE/data-t2i/train.jsonl" ]; then
  nice -n 5 "$PY" -m uniimage.cli.shapes_data --out "$BASE/data-t2i" --split train --n-t2i "${N_T2I:-40000}" --n-edit 0 \
    --n-vqa 0 --image-size 64 --seed 3 --formats jsonl > "$RUNS/data-t2i.log" 2>&1
fi
if [ ! -f "$BASE/data-t2i/train_described.jsonl" ]; then  # stage 1b: the same scenes, fully described
  "$PY" -m uniimage.cli.demo_describe "$BASE/data-t2i/train.jsonl" "$BASE/data-t2i/train_described.jsonl"
fi
# v7: two-object scenes in reading order (the first-named object on the left; uniimage/demo/reading_order.py),
# and their full descriptions, which name objects left to right.
if [ ! -f "$BASE/data-t2i/train_ro_described.jsonl" ]; then
  "$PY" -m uniimage.cli.demo_reading_order "$BASE/data-t2i/train.jsonl" "$BASE/data-t2i/train_ro.jsonl"
  "$PY" -m uniimage.cli.demo_describe "$BASE/data-t2i/train_ro.jsonl" "$BASE/data-t2i/train_ro_described.jsonl"
fi
# v18: the same scenes with every counting scene drawn in a fixed arrangement per count, and their descriptions
# (uniimage/demo/count_layout.py): since v19 the text-to-image data of stage 1 and the joint stage.
if [ ! -f "$BASE/data-t2i/train_counted_described.jsonl" ] \
   || [ "$BASE/data-t2i/train_ro.jsonl" -nt "$BASE/data-t2i/train_counted_described.jsonl" ]; then
  "$PY" -m uniimage.cli.demo_count_layout "$BASE/data-t2i/train_ro.jsonl" "$BASE/data-t2i/train_counted.jsonl"
  "$PY" -m uniimage.cli.demo_describe "$BASE/data-t2i/train_counted.jsonl" "$BASE/data-t2i/train_counted_described.jsonl"
fi
# A SANA base made before v7 lacks the DiT's sincos positions: its fresh DiT is written again (seconds, seeded).
if ! grep -q '"interpolation_scale": 1' "$BASE/sana/transformer/config.json"; then
  "$PY" -m uniimage.cli.demo_stage0 sana --out "$BASE" --threads "$THREADS" > "$RUNS/stage0-sana.log" 2>&1
fi
# Stage 2/3 editing pairs: 8000 training-split edits at 64 px (stage 0 renders none). With EDIT_CELLS an added
# object goes to the first free cell of the grid (its place is written down in data-edit/add_grid; data made with
# another rule is made again).
add_grid=(); want_grid=random
[ "$EDIT_CELLS" = 1 ] && add_grid=(--edit-add-grid "$EDIT_GRID") && want_grid=$EDIT_GRID
if [ ! -f "$BASE/data-edit/train.jsonl" ] || [ "$(cat "$BASE/data-edit/add_grid" 2>/dev/null || echo random)" != "$want_grid" ]; then
  rm -rf "$BASE/data-edit"
  nice -n 5 "$PY" -m uniimage.cli.shapes_data --out "$BASE/data-edit" --split train --n-t2i 0 --n-edit "${N_EDIT:-8000}" \
    --n-vqa 0 --image-size 64 --seed 1 --formats jsonl ${add_grid[@]+"${add_grid[@]}"} > "$RUNS/data-edit.log" 2>&1
  echo "$want_grid" > "$BASE/data-edit/add_grid"
fi
[ -n "${DATA_ONLY:-}" ] && exit 0   # data and stage 0 only (scripts/train_demo_gpu.sh)

# Stage 0b, query slots (uniimage/configs/demo/slots.yaml, about 15 min): the MLLM's query tokens learn to hold
# the caption one object per token, so the DiT can read which colour goes with which shape. Only STAGE_ARGS_slots
# reaches it: the shared STAGE_ARGS size the training stages (the GPU run's batch of 128 is not this stage's 64).
# v8: each object token also learns the side of the picture its object is on (--sides); v9: 1000 steps, not 400;
# v12: head 0 / head 1 of each object query learn to attend to its colour / shape word (--attend 0.2), so a
# held-out colour-shape pair reaches the slots (demo README, "Held-out colour-shape pairs").
# A slot model made with other steps than slots.yaml's (v8: 400), without sides (v7) or word attention (v11),
# or with a DiT without positions (v6) is made again.
SLOT_STEPS=$("$PY" -c "import yaml; print(yaml.safe_load(open('uniimage/configs/demo/slots.yaml'))['max_steps'])")
SLOT_ATTEND=0.2   # the word-attention weight (v12); a slot model made with another is made again
slot_edits=() slot_edit_cells=0
if [ "$EDIT_CELLS" = 1 ]; then  # 16 edits a step beside the 64 prompts, for 2000 steps (the screen's schedule)
  SLOT_STEPS=2000 slot_edit_cells=1
  slot_edits=(--edits "$BASE/data-edit/train.jsonl" --edit-batch 16 --attend-cell 0.2 "max_steps=$SLOT_STEPS")
fi
if [ "$EDIT_CELLS" = 1 ] && ! grep -q '"cell_positions": true' "$BASE/qwen/stage0_report.json"; then
  echo "EDIT_CELLS=1 needs a stage 0 whose tower learnt cell positions; $BASE/qwen was made without: run without SKIP_STAGE0" >&2
  exit 1
fi
if ! grep -q '"sides": true' "$BASE/slots/slots_report.json" 2>/dev/null \
   || [ "$(grep -c '"edit_cells": true,' "$BASE/slots/slots_report.json")" != "$slot_edit_cells" ] \
   || ! grep -q "\"steps\": $SLOT_STEPS," "$BASE/slots/slots_report.json" \
   || ! grep -q "\"attend\": $SLOT_ATTEND," "$BASE/slots/slots_report.json" \
   || ! grep -q '"interpolation_scale": 1' "$BASE/slots/sana/transformer/config.json"; then
  rm -rf "$BASE/slots"
  mark "slots start"
  # shellcheck disable=SC2086
  nice -n 5 "$PY" -m uniimage.cli.demo_slots uniimage/configs/demo/slots.yaml --sides --attend "$SLOT_ATTEND" \
    ${slot_edits[@]+"${slot_edits[@]}"} ${STAGE_ARGS_slots:-} > "$RUNS/slots.log" 2>&1
  tail -n 1 "$RUNS/slots.log"
  mark "slots end"
fi

# v12: the target images' VAE latents, encoded once (`uniimage data cache-latents`: stages 1 and 2 then train
# without the VAE encoder), the data sets side by side, one thread each. Remade when the slot model (whose VAE
# they hold) is newer than them. Processes read whole shards: a cache needs at least PROCS of them.
LATENT_SHARD="${LATENT_SHARD:-500}"
pids=()
for set in train_counted train_counted_described edit; do
  src="$BASE/data-t2i/$set.jsonl"; [ "$set" = edit ] && src="$BASE/data-edit/train.jsonl"
  dst="$BASE/latents/$set"
  if [ ! -f "$dst/latents.json" ] || [ "$BASE/slots/model.safetensors" -nt "$dst/latents.json" ]; then
    rm -rf "$dst" && mkdir -p "$BASE/latents"
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "${UNIIMAGE[@]}" data cache-latents "$src" -o "$dst" --model "$BASE/slots" \
      --batch-size 64 --shard-size "$LATENT_SHARD" > "$RUNS/latents-$set.log" 2>&1 &
    pids+=($!)
  fi
done
[ ${#pids[@]} -gt 0 ] && mark "latents start"
for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid"; done   # set -e: a failed cache stops the chain here
[ ${#pids[@]} -gt 0 ] && mark "latents end"

# Stage 1 from the slot model (t2i_slots; v19: half of its samples edits), then the joint stage with 30% edits
# (joint_edit: v9 trains the DiT alone; v6-v8 trained the MLLM's ladder layers, queries and connector with it, with
# LM rehearsal), both on the scenes with counting arranged (v19). v18 arranged them only in a third, count stage
# (joint_count, 1200 DiT steps after the joint stage; STAGES="t2i_slots joint_edit joint_count" runs it). v5 was
# t2i_pretrain t2i_joint joint_edit (joint_edit then from t2i_joint, 1500 steps). The v3 chain's t2i_continue,
# edit_pretrain and finetune undid part of what stage 1 learnt (uniimage/demo/README.md). STAGES overrides the list.
# The training stages (these three and stage 4) run as `python -m MODULE`, or with PROCS > 1 as that many gloo
# processes under torchrun, THREADS / PROCS threads each.
procs=("$PY") per=$THREADS
if [ "$PROCS" -gt 1 ]; then
  procs=("$PY" -m torch.distributed.run --standalone --nproc-per-node "$PROCS")
  per=$(( THREADS / PROCS > 0 ? THREADS / PROCS : 1 ))
fi
for stage in ${STAGES:-t2i_slots joint_edit}; do
  resume=()
  if [ -n "${RESUME:-}" ]; then resume=(resume=auto); else rm -rf "${RUNS:?}/$stage" "$RUNS/$stage.log"; fi
  stage_args="STAGE_ARGS_$stage"
  mark "$stage start${resume[*]:+ (resume=auto)}"
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=$per MKL_NUM_THREADS=$per nice -n 5 "${procs[@]}" -m uniimage.cli.main train \
    "uniimage/configs/demo/$stage.yaml" ${STAGE_ARGS:-} ${!stage_args:-} ${resume[@]+"${resume[@]}"} >> "$RUNS/$stage.log" 2>&1
  tail -n 1 "$RUNS/$stage.log"
  mark "$stage end"
done

# Ship: published layout + component configs, float32 (about 21 MB; `--dtype bfloat16` halves it).
rm -rf "$SHIP.new" "$SHIP.answer"
"${UNIIMAGE[@]}" export "$RUNS/${stage}" "$SHIP.new"   # the last stage run
find "$SHIP.new" -name '*.bin' -delete   # package data is safetensors only
# Stage 4 (v13-v16), answer layers: ANSWER_GROW decoder layers stacked above the MLLM's top layer and trained on
# fresh training-split questions, the loss's logits adjusted by the question words' answer prior (v14), the rest
# frozen. Neither drawing path runs these weights, so every picture stays as the joint stage drew it
# (uniimage/demo/answer_layers.py, answer_prior.py; demo README, "Demo v14"). ANSWER_TOWER=1 (v14, v15) trains the
# vision tower too: VQA rises (v16's chain: 0.75 / 0.60 -> 0.81 / 0.68 on 100), but an edit's source passes through
# the tower, and edits fall from 0.40 to 0 (demo README, "Demo v16"). Like stages 1 and 3 it runs as PROCS gloo
# processes (each on its share of every batch of 16: the same weights as one process, uniimage/demo/data_parallel.py);
# ANSWER_ROUNDS="" (or ANSWER_STEPS=0) skips it. POSITION_WEIGHT (v17: 1; 0 before) adds dense targets for the position questions
# (uniimage/demo/position_supervision.py): position answers leave chance (demo README, "Dense targets for position
# questions"). v17 runs stage 4 in rounds, ANSWER_ROUNDS = STEPS:SEED per run: the first stacks ANSWER_GROW layers,
# the later ones keep training the same layers (--grow 0), each on its seed's fresh questions with the LR warmed up
# again. More rounds kept raising the answers, held-out ones too (demo README, "Demo v17").
tower=(); [ "${ANSWER_TOWER:-0}" = 1 ] && tower=(--train-tower)
if [ -n "$ANSWER_ROUNDS" ]; then
  mark "answer start"
  grow="${ANSWER_GROW:-4}" round=0
  for r in $ANSWER_ROUNDS; do
    round=$((round + 1))
    rm -rf "$SHIP.answer"
    OMP_NUM_THREADS=$per MKL_NUM_THREADS=$per nice -n 5 "${procs[@]}" -m uniimage.cli.demo_answer "$SHIP.new" --out "$SHIP.answer" \
      --threads "$per" --grow "$grow" --steps "${r%%:*}" --seed "${r##*:}" --prior-tau 1 --position-weight "${POSITION_WEIGHT:-1}" \
      ${tower[@]+"${tower[@]}"} > "$RUNS/answer-$round.log" 2>&1
    tail -n 1 "$RUNS/answer-$round.log"
    mark "answer round $round ($r) end"
    rm -rf "$SHIP.new" && mv "$SHIP.answer" "$SHIP.new"
    grow=0
  done
  mark "answer end"
fi
rm -rf "$SHIP" && mv "$SHIP.new" "$SHIP"
du -sh "$SHIP"
mark "chain end"
