#!/usr/bin/env bash
# Prepares the publishers' media for the k6 scripts from a real clip with a face:
#   bash load-tests/prepare-media.sh <clip> [out-dir=load-tests/media]
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/src/cli/main.js load prepare "$1" --out "${2:-load-tests/media}"
