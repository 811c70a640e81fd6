#!/usr/bin/env bash
# `npm start`: set up, then run the main job on the embedded default (nothing else running).
# Today that is the offline model: an UNTRAINED random package, a features file in its layout, and
# `eri predict-features` over it. It grows into `eri serve` as the server lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eri="node dist/src/cli/main.js"
demo=.eri/demo
mkdir -p "$demo"
[ -f "$demo/model/model.json" ] || $eri model init --random --out "$demo/model" --seed 0 >/dev/null
[ -f "$demo/features.safetensors" ] || $eri model sample-input "$demo/model" --out "$demo/features.safetensors" --video-steps 300 --audio-steps 300 >/dev/null
$eri model info "$demo/model"
echo
exec $eri predict-features --model "$demo/model" --input "$demo/features.safetensors"
