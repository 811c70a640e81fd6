#!/usr/bin/env bash
# `npm start`: set up, then run the main job on the embedded default (nothing else running).
# Until the live server lands that is `eri analyze` on a short clip: a still test pattern with synthetic
# speech (ffmpeg + espeak-ng), analysed with an UNTRAINED random model package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eri="node dist/src/cli/main.js"
demo=.eri/demo
mkdir -p "$demo"
# (Re)make the demo model when absent or made for other features than the extractor's.
if ! $eri model info "$demo/model" --json 2>/dev/null | grep -q '"id": "eri-face-audio-v1"'; then
  rm -rf "$demo/model"
  $eri model init --random --out "$demo/model" --seed 0 >/dev/null
fi
if [ ! -f "$demo/clip.mkv" ]; then
  espeak-ng -w "$demo/speech.wav" "Hello. This short clip shows how eri stream analyses a video, one step at a time."
  ffmpeg -v error -y -f lavfi -i testsrc=size=640x480:rate=25 -i "$demo/speech.wav" -shortest \
    -c:v libx264 -pix_fmt yuv420p -c:a aac "$demo/clip.mkv"
fi
$eri model info "$demo/model"
echo
exec $eri analyze "$demo/clip.mkv" --model "$demo/model" --format csv
