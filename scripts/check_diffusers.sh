#!/usr/bin/env bash
# The ladder and golden-fixture parity tests under another diffusers release, in a throwaway venv
# (CI runs the whole suite on the version pyproject.toml resolves to).
#   bash scripts/check_diffusers.sh 0.42.0 [/tmp/venv-diffusers]
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: check_diffusers.sh DIFFUSERS_VERSION [VENV_DIR]}"
venv="${2:-/tmp/venv-diffusers-$version}"
python3 -m venv "$venv"
# torch is pinned: the CPU build lies on local disk; an unpinned torch pulls a multi-GB CUDA build.
"$venv/bin/pip" install -q torch==2.13.0 "diffusers==$version" "transformers>=5.0,<6" accelerate safetensors \
  huggingface_hub pillow numpy tqdm pyyaml scipy pytest
PYTHONPATH="$PWD" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/core/test_core_ladder.py tests/core/test_core_fixtures.py
