#!/usr/bin/env bash
# One-time (and idempotent) set-up on Debian 12 with Node 20: system packages, npm dependencies, build.
# Safe to run before every start or test: each step is skipped when already done.
#
#   setup.sh serve   what serving needs: ffmpeg, the compilers npm ci needs, the mediasoup worker (npm start)
#   setup.sh test    that, plus what the tests, benchmarks and training use (npm test; the default)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

purpose=${1:-test}
case "$purpose" in serve | test) ;; *) log "usage: setup.sh [serve|test]"; exit 2 ;; esac

# First, before anything is installed: the one thing no package here can fix.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  log "Node $(node --version 2>/dev/null || echo '(none)') is too old or missing: eri-stream needs Node 20 or newer"; exit 1
fi

# --- Debian packages ---------------------------------------------------------------------------
# ffmpeg decodes media; g++, make, python3: npm ci compiles better-sqlite3 (its prebuilt binary would
# come from GitHub).
APT_PACKAGES=(ffmpeg g++ make python3)
if [ "$purpose" = test ]; then
  # espeak-ng: synthetic speech; chromium: the browser tests; redis-server: the multi-node tests (they
  # start their own, on a free port); python3-torch + OpenBLAS: training (the reference BLAS makes a
  # training step ~10x slower); prometheus: its promtool checks /metrics and the scrape configuration.
  APT_PACKAGES+=(espeak-ng chromium redis-server python3-torch python3-numpy libopenblas0-pthread prometheus)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=''
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
    SUDO='sudo'
  fi
  log "installing Debian packages: ${missing[*]}"
  # Wait for another apt (unattended-upgrades, a second terminal) instead of failing on its lock.
  apt_wait=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${apt_wait[@]}" update -qq
  # Packages with a daemon (redis-server, prometheus) are installed, not started: the tests start their
  # own, and nothing is left listening on this machine. policy-rc.d is Debian's switch for that.
  no_start=''
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    no_start=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$no_start" >/dev/null && $SUDO chmod +x "$no_start"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ -z "$no_start" ] || $SUDO rm -f "$no_start"; exit 1; }
  [ -z "$no_start" ] || $SUDO rm -f "$no_start"
fi

# --- npm dependencies ----------------------------------------------------------------------------
# onnxruntime-node's postinstall would download CUDA providers; the CPU provider ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
# mediasoup's postinstall would download a prebuilt worker (or meson subprojects): with this set it skips,
# and the worker is built offline below, once per mediasoup version, into a cache outside the repo.
cache_root=${ERI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eri-stream}
mediasoup_version=$(node -p "require('./package.json').dependencies.mediasoup")
export MEDIASOUP_WORKER_BIN=${MEDIASOUP_WORKER_BIN:-$cache_root/mediasoup-worker/$mediasoup_version/mediasoup-worker}
stamp=node_modules/.eri-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# --- mediasoup worker ----------------------------------------------------------------------------
if [ ! -x "$MEDIASOUP_WORKER_BIN" ]; then
  log "building mediasoup-worker $mediasoup_version (once per version, ~8 min) into $MEDIASOUP_WORKER_BIN"
  bash scripts/mediasoup/build-worker.sh node_modules/mediasoup "$MEDIASOUP_WORKER_BIN"
fi

# --- public-domain portraits ---------------------------------------------------------------------
# Two public-domain photographs that ship inside Debian packages (Grace Hopper, US Navy, in facedetect's
# examples; Eileen Collins, NASA, in scikit-image's data): the faces of the synthetic datasets that the
# training tests and the starter model use. Fetched with `apt-get download` (no install), once.
portraits=$cache_root/portraits
if [ "$purpose" = test ] && { [ ! -f "$portraits/grace_hopper.jpg" ] || [ ! -f "$portraits/astronaut.png" ]; }; then
  log "fetching public-domain portraits from Debian packages into $portraits"
  tmp=$(mktemp -d)
  if (cd "$tmp" && { apt-get download facedetect python3-skimage >/dev/null 2>&1 ||
        { ${SUDO:-} apt-get update -qq && apt-get download facedetect python3-skimage >/dev/null 2>&1; }; } &&
      for deb in ./*.deb; do dpkg -x "$deb" x; done); then
    mkdir -p "$portraits"
    cp "$tmp/x/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg" "$portraits/grace_hopper.jpg"
    cp "$tmp/x/usr/lib/python3/dist-packages/skimage/data/astronaut.png" "$portraits/astronaut.png"
  else
    log "could not fetch the portraits: the training tests that need faces will skip"
  fi
  rm -rf "$tmp"
fi

# --- build ---------------------------------------------------------------------------------------
log "building TypeScript"
npm run build --silent
