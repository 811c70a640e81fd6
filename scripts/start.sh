#!/usr/bin/env bash
# `npm start`: set up, then run the server on the embedded default (in memory, nothing else running).
# Open the printed /publish page in a browser to publish your camera and see your own live estimate.
# Until a trained model ships in models/, the server runs an UNTRAINED random model (it says so).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh serve
eri="node dist/src/cli/main.js"
model=${ERI_MODEL:-models/eri-starter}
if [ ! -f "$model/model.json" ]; then
  model=.eri/demo/model
  # (Re)make the demo model when absent or made for other features than the extractor's.
  if ! $eri model info "$model" --json 2>/dev/null | grep -q '"id": "eri-face-audio-v2"'; then
    rm -rf "$model"
    $eri model init --random --out "$model" --seed 0 >/dev/null
  fi
fi
# Local use: no authentication unless ERI_JWT_SECRET / ERI_JWT_PUBLIC_KEY is set (then tokens are required).
if [ -z "${ERI_JWT_SECRET:-}${ERI_JWT_PUBLIC_KEY:-}" ]; then set -- --insecure-dev "$@"; fi
exec $eri serve --model "$model" "$@"
