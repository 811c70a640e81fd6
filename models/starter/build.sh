#!/usr/bin/env bash
# Rebuilds the starter model package (models/eri-starter) from nothing but Debian packages and this
# repository: proxy media -> eri extract -> teacher labels -> eri train (the seed's recipe) -> eri eval,
# and the held-out MEAD check when ../shared/testmedia is there. ~20 min on 2 cores.
# Usage: bash models/starter/build.sh [work-dir]   (default: ~/.cache/eri-stream/starter-build)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
work=${1:-${ERI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eri-stream}/starter-build}
eri="node dist/src/cli/main.js"
count=${ERI_STARTER_CLIPS:-240}

[ -f "$work/media/data_info.csv" ] || node models/starter/make-proxy-dataset.mjs "$work/media" "$count" 2026
$eri extract "$work/media" --out "$work/features" --no-progress
PYTHONPATH=models/training /usr/bin/python3 -m eri_train teacher "$work/features"
rm -rf "$work/model"
$eri train "$work/features" --out "$work/model" --seed 0 --modality-dropout 0.2 \
  --name eri-starter --model-version 0.1.0 \
  --description "STARTER model trained on a proxy: teacher labels from the extractor's expression probabilities and voice activity on synthetic clips of two public-domain portraits. Not trained on Hume-Reaction; not a measure of self-reported reaction intensity. See models/eri-starter/README.md." \
  --data "$count synthetic 4 s clips (models/starter/make-proxy-dataset.mjs, seed 2026): public-domain photographs of Grace Hopper (US Navy) and Eileen Collins (NASA) from Debian packages, warped and lit by ffmpeg, with espeak-ng speech; labels: eri_train teacher (expression probabilities + voice activity -> 7 emotions, models/training/eri_train/teacher.py)" \
  --licence "MIT (weights); the training media are public-domain photographs and synthetic speech"
$eri eval "$work/model" "$work/features" --split Val --out "$work/eval"
node models/starter/heldout-mead.mjs "$work/model" "$work/mead" || true
mkdir -p models/eri-starter
cp "$work/model/model.json" "$work/model/weights.safetensors" models/eri-starter/
cp "$work/eval/scatter.svg" models/eri-starter/val-scatter.svg
if [ -f "$work/mead/heldout-mead.json" ]; then
  cp "$work/mead/heldout-mead.json" models/eri-starter/heldout-mead.json
  # The held-out figures go into the card too (the card's metrics are not covered by the weights' hash).
  node -e '
    const fs = require("fs");
    const card = JSON.parse(fs.readFileSync("models/eri-starter/model.json", "utf8"));
    const h = JSON.parse(fs.readFileSync("models/eri-starter/heldout-mead.json", "utf8"));
    const note = `MEAD clips in ../shared/testmedia (never trained on), ${h.clips} clips whose acted emotion maps to one of the 7; chance ${h.chance.toFixed(3)}`;
    card.metrics = card.metrics.filter((m) => m.split !== "MEAD held-out");
    card.metrics.push({ name: "top1_mapped_emotion", split: "MEAD held-out", value: h.top1, note });
    card.metrics.push({ name: "top1_mapped_emotion.centred", split: "MEAD held-out", value: h.top1Centred, note: "after subtracting each emotion'"'"'s mean output over these clips" });
    fs.writeFileSync("models/eri-starter/model.json", JSON.stringify(card, null, 2) + "\n");
  '
fi
echo "models/eri-starter rebuilt from $work"
