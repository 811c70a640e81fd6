#!/usr/bin/env bash
# Builds mediasoup-worker offline from the sources inside the mediasoup npm package, against Debian 12
# libraries, and installs it at the given path. mediasoup's own postinstall downloads a prebuilt worker
# (GitHub) or meson subprojects (libuv, openssl, libsrtp3, flatbuffers, abseil): neither works offline or
# behind most firewalls. mediasoup-<version>-debian12.patch points meson at Debian's packages, ports the
# SRTP session to libsrtp 2 (Debian has no libsrtp 3), shims ankerl::unordered_dense with the standard
# containers, and fixes a DTLS BIO callback bug that crashes the worker with distro OpenSSL (kTLS).
#
# Usage: build-worker.sh <node_modules/mediasoup> <output binary>      (~8 min on 2 cores)
set -euo pipefail
pkg=$(cd "${1:?usage: $0 <node_modules/mediasoup> <output binary>}" && pwd)
out=$(realpath -m "${2:?usage: $0 <node_modules/mediasoup> <output binary>}")
here=$(cd "$(dirname "$0")" && pwd)
version=$(node -p "require('$pkg/package.json').version")
patch_file="$here/mediasoup-$version-debian12.patch"
[ -f "$patch_file" ] || { echo "no Debian patch for mediasoup $version ($patch_file): pin mediasoup to a patched version" >&2; exit 1; }

packages=(g++ meson ninja-build pkg-config python3 patch libuv1-dev libssl-dev libsrtp2-dev libflatbuffers-dev flatbuffers-compiler libabsl-dev)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=''; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "[mediasoup] installing build packages: ${missing[*]}" >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=$(mktemp -d /tmp/eri-mediasoup-worker.XXXXXX)
trap 'rm -rf "$build"' EXIT
cp -r "$pkg/worker" "$build/worker"
rm -rf "$build/worker/out" "$build/worker/pip_invoke" "$build/worker/prebuild"
patch -s -p1 -d "$build" < "$patch_file"
cd "$build/worker"
echo "[mediasoup] building mediasoup-worker $version (offline, Debian libraries)" >&2
meson setup --buildtype release -Db_ndebug=true --wrap-mode=nodownload -Dms_build_tests=false -Dms_build_fuzzer=false out/build >/dev/null
# ninja prints one [n/total] line per compiled file: report every 10 %, and any failure in full.
ninja -C out/build -j "$(nproc)" mediasoup-worker |
  awk '/^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), f, "/"); p = int(100 * f[1] / f[2]);
         if (p >= last + 10) { printf "[mediasoup] compiling: %d %% (%d of %d files)\n", p, f[1], f[2] > "/dev/stderr"; last = p } ; next }
       { print > "/dev/stderr" }' 
mkdir -p "$(dirname "$out")"
install -m 0755 out/build/mediasoup-worker "$out.tmp"
# mediasoup's own validity check: run without MEDIASOUP_VERSION, the worker exits with 41.
set +e; env -i "$out.tmp" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 41 ] || { echo "[mediasoup] the built worker does not run here (exit $rc)" >&2; rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
echo "[mediasoup] installed $out" >&2
