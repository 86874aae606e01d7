#!/usr/bin/env bash
# The demo chain (scripts/train_demo.sh: stage 0b query slots -> stage 1 -> joint edit stage) on a lent GPU, as one
# prepared run of about 9 minutes (issue 13): data rendered on the machine's CPU cores, batches of BATCH (8x the
# CPU's 16), each stage's steps sized from a measured step time so the two stages fill BUDGET seconds.
# Stage 0 (the VLM and the VAE) is taken from BASES: qwen/ and sana/vae/ (10 MB) of today's stage 0, as
# scripts/train_demo_stage0.sh writes them into build/demo-base (about 1 h on 2 cores):
#   mkdir -p .demo-bases/sana && cp -r build/demo-base/qwen .demo-bases/ && cp -r build/demo-base/sana/vae .demo-bases/sana/
# No shipped preset holds today's stage-0 MLLM: from v10 on, the slot stage trains its text layers. v4's bases
# (`demo_stage0 bases --from` v4's preset, commit 25c2e75) predate the sixteenth session's stage 0 (3D image
# positions, rotary base 10, per-cell targets), so a chain on them is not the shipped recipe (demo README).
# (A whole model folder works as BASES too, but a 21 MB model, the repository's 33 MB and the wheels' 21 MB are
# more than the 64 MiB that travels to the machine.)
#
#   on the GPU machine (no network; carry .whl and .demo-bases, both in .git/info/exclude):
#     bash scripts/train_demo_gpu.sh           # writes to $OUT: evals.json, gaps.json, timing.json, log.txt, model.tar.part-*
#   here first, the same commands at tiny sizes (a few minutes on a CPU core; checks the script before a lease):
#     SMOKE=1 BASES=uniimage/presets/demo OUT=/tmp/g bash scripts/train_demo_gpu.sh
#
# Wheels for .whl/ (the image has torch, accelerate, safetensors, tokenizers, pillow, pyyaml, tqdm, peft; fetch with
# the pip download line of the device README, --python-version 3.12): transformers==5.24.0 diffusers==0.42.1
# regex==2026.11.19 torchdata==0.11.0. Back here: `cat model.tar.part-* | tar -x` gives demo-gpu/, the exported model.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-build/demo-gpu-out}"
BASES="${BASES:-.demo-bases}"
BATCH="${BATCH:-128}"
LR_SCALE="${LR_SCALE:-2}"      # peak LRs x this for BATCH (square-root rule: 8x batch -> 2.8x; 2 is the safer side)
BUDGET="${BUDGET:-240}"        # seconds of training, both stages (the whole run: about 9 minutes)
WORKERS="${WORKERS:-6}"        # data worker processes per stage
EVAL_LIMIT="${EVAL_LIMIT:-60}"
CAL_STEPS="${CAL_STEPS:-5 85}"  # the two calibration runs' steps
mkdir -p "$OUT"
LOG="$OUT/log.txt"
exec > >(tee -a "$LOG") 2>&1

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONHASHSEED=0
PY="${PYTHON:-python3}"
UNI="$PY -m uniimage.cli.main"
THREADS="${THREADS:-$(nproc)}"
[ -d "$BASES" ] || { echo "BASES=$BASES is not a folder: see the header for how to make it"; exit 2; }
if { [ -e build/demo-runs ] || [ -e build/demo-base ]; } && [ -z "${FORCE:-}" ]; then  # train_demo.sh replaces stage runs and the data
  echo "build/demo-runs or build/demo-base exists (a CPU chain's?): this script would replace them; move them away or set FORCE=1"; exit 2
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

if [ -n "${SMOKE:-}" ]; then   # seconds on a CPU: the same commands, tiny sizes
  BATCH=4 BUDGET="${BUDGET_SMOKE:-4}" WORKERS=0 EVAL_LIMIT=2 THREADS=1 CAL_STEPS="1 3"
  export N_T2I=64 N_EDIT=32 STAGE0_DATA_ARGS="--n-t2i 32 --n-vqa 64 --eval-n 0"
  export STAGE_ARGS_slots="max_steps=2 batch_size=4 rehearsal.batch_size=2"
fi
# v15's edit cell slots (train_demo.sh EDIT_CELLS) need a stage 0 whose tower learnt cell positions: on with such
# bases (stage0_report.json says so), off with older ones or a model folder, whose report does not.
EDIT_CELLS="${EDIT_CELLS:-$(grep -qs '"cell_positions": true' "$BASES/qwen/stage0_report.json" && echo 1 || echo 0)}"
echo "EDIT_CELLS=$EDIT_CELLS"
export EDIT_CELLS PROCS=1 THREADS PYTHON="$PY" UNIIMAGE="$UNI" SHIP=build/demo-gpu STAGE_ARGS="batch_size=$BATCH data.num_workers=$WORKERS"
START=$SECONDS
mkdir -p build/demo-base build/demo-runs
if [ -d "$BASES/qwen" ] && [ -d "$BASES/sana/vae" ]; then  # stage 0's bases, taken out already: a fresh DiT and the scenes
  cp -r "$BASES/qwen" build/demo-base/ && mkdir -p build/demo-base/sana && cp -r "$BASES/sana/vae" build/demo-base/sana/
  for step in sana data; do
    # shellcheck disable=SC2086
    "$PY" -m uniimage.cli.demo_stage0 "$step" --out build/demo-base --threads "$THREADS" ${STAGE0_DATA_ARGS:-} \
      > "build/demo-runs/stage0-$step.log" 2>&1 || { tail -n 20 "build/demo-runs/stage0-$step.log"; exit 3; }
  done
  export SKIP_STAGE0=1
else  # a whole model folder: train_demo.sh takes the bases out of it
  export BASES_FROM="$BASES"
fi

# The 40000 text-to-image scenes in 8 shards at once (seeds 3..10), merged into the one manifest train_demo.sh
# looks for; the edits and stage 0's questions render beside them.
if [ -z "${SMOKE:-}" ] && [ ! -f build/demo-base/data-t2i/train.jsonl ]; then
  mkdir -p build/demo-base/data-t2i
  for k in 0 1 2 3 4 5 6 7; do
    "$PY" -m uniimage.cli.shapes_data --out "build/demo-base/data-t2i/s$k" --split train --n-t2i $((${N_T2I:-40000} / 8)) \
      --n-edit 0 --n-vqa 0 --image-size 64 --seed $((3 + k)) --formats jsonl > /dev/null &
  done
  wait
  "$PY" - <<'PYEOF'
import json, pathlib
root = pathlib.Path("build/demo-base/data-t2i")
with open(root / "train.jsonl", "w") as out:
    for k in range(8):
        for line in (root / f"s{k}" / "train.jsonl").read_text().splitlines():
            row = json.loads(line)
            row["image"] = f"s{k}/{row['image']}"
            out.write(json.dumps(row) + "\n")
PYEOF
fi
DATA_ONLY=1 bash scripts/train_demo.sh || { tail -n 20 build/demo-runs/*.log; exit 3; }
DATA_S=$((SECONDS - START))

# Step time of stage 1 at this batch: two short runs, the difference removes the start-up.
steps_time() {  # steps -> seconds of `uniimage train` for t2i_pretrain
  local t0; t0=$(date +%s.%N)
  $UNI train uniimage/configs/demo/t2i_pretrain.yaml output_dir=build/demo-runs/calib batch_size="$BATCH" \
    data.num_workers="$WORKERS" max_steps="$1" checkpoint.every=100000 log.progress=false > build/demo-runs/calib.log 2>&1 \
    || { tail -n 20 build/demo-runs/calib.log; return 1; }
  rm -rf build/demo-runs/calib
  "$PY" -c "print($(date +%s.%N) - $t0)"
}
read -r CAL_SHORT CAL_LONG <<< "$CAL_STEPS"
SHORT=$(steps_time "$CAL_SHORT") && LONG=$(steps_time "$CAL_LONG") || { echo "calibration run failed"; exit 4; }
# Shares of BUDGET: 55% stage 1, 45% joint edit; a joint step costs about a stage-1 step (v9: the DiT alone learns
# in both). The slot stage (1000 steps of 64 prompts) runs before either, outside the budget (a minute or two on a GPU).
read -r STEP_S N1 N2 <<< "$("$PY" -c "
s = max(($LONG - $SHORT) / ($CAL_LONG - $CAL_SHORT), 1e-3); b = $BUDGET
print(round(s, 4), *(max(2, int(f * b / s)) for f in (0.55, 0.45)))")"
lr() { "$PY" -c "print($1 * $LR_SCALE)"; }
export STAGE_ARGS_t2i_slots="max_steps=$N1 checkpoint.every=$N1 optim.lr=$(lr 1e-3) optim.min_lr=$(lr 1e-4)"
JOINT_LR="optim.lr=$(lr 3e-4) optim.min_lr=$(lr 3e-5)"
export STAGE_ARGS_joint_edit="max_steps=$N2 checkpoint.every=$N2 $JOINT_LR"
echo "step ${STEP_S}s at batch $BATCH: stages of $N1 / $N2 steps"
T0=$SECONDS
# Stage 4 (answer layers, CPU only) is left out of the budget: run it on the returned model afterwards
# (torchrun --standalone --nproc-per-node 2 -m uniimage.cli.demo_answer MODEL --out DIR --threads 1 --grow 4
# --steps 6000 --prior-tau 1 --position-weight 1, then the later rounds of train_demo.sh's ANSWER_ROUNDS with --grow 0
# and their --steps / --seed: about 1 h on the 2-core machine; the tower stays frozen there).
ANSWER_STEPS=0 BASES_FROM="" SKIP_STAGE0=1 STAGES="t2i_slots joint_edit" bash scripts/train_demo.sh || { tail -n 30 build/demo-runs/*.log; exit 5; }
TRAIN_S=$((SECONDS - T0))

# Figures of issue 13 (sampling seed 0), one JSON.
T1=$SECONDS
echo "{" > "$OUT/evals.json"
for spec in "t2i train $EVAL_LIMIT" "t2i heldout $EVAL_LIMIT" "edit train $EVAL_LIMIT" "vqa train $((EVAL_LIMIT * 5 / 3))" "vqa heldout $((EVAL_LIMIT * 5 / 3))"; do
  read -r task split n <<< "$spec"
  result=$($UNI eval shapes --model build/demo-gpu --task "$task" --split "$split" --limit "$n" --json 2>/dev/null | tail -n 1)
  echo "  \"$task-$split\": ${result:-null}," >> "$OUT/evals.json"
done
# Which words the DiT reads: caption, colour, shape, binding and relation loss gaps (demo README, ninth session).
"$PY" -m uniimage.cli.conditions build/demo-gpu build/demo-base/data-t2i/train.jsonl --limit 128 --attributes 128 \
  --pairs 128 > "$OUT/gaps.json" 2> build/demo-runs/gaps.log || tail -n 5 build/demo-runs/gaps.log
EVAL_S=$((SECONDS - T1))
cat >> "$OUT/evals.json" <<EOF
  "batch": $BATCH, "steps": [$N1, $N2], "step_s": $STEP_S, "lr_scale": $LR_SCALE
}
EOF
cat > "$OUT/timing.json" <<EOF
{"data_s": $DATA_S, "train_s": $TRAIN_S, "eval_s": $EVAL_S, "total_s": $((SECONDS - START)), "budget_s": $BUDGET}
EOF
tar -c build/demo-gpu | split -b 15M - "$OUT/model.tar.part-"
cat "$OUT/evals.json" "$OUT/timing.json"
