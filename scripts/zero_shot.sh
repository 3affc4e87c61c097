#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install into .venv (CPU torch first), then
# evaluate the bundled Lag-Llama checkpoint zero-shot on a held-out GluonTS dataset, offline.
# Usage: bash scripts/zero_shot.sh [DATASET] [extra `zero-shot` options, e.g. --checkpoint lag-llama.ckpt]
set -euo pipefail
cd "$(dirname "$0")/.."
dataset="${1:-ett_small_1h}"
shift || true

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".[dev]"
fi
exec .venv/bin/python -m lagllama_gluonts zero-shot --dataset "$dataset" --out "out/zero-shot/$dataset" "$@"
