#!/usr/bin/env bash
# Installs what s2c needs on Debian 12 (with the CUDA 13 toolkit at
# /usr/local/cuda), only the packages that are missing, then configures the
# build. Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail

pkgs=(cmake ninja-build g++ python3 libmlir-22-dev mlir-22-tools llvm-22-dev
      llvm-22-tools libcli11-dev libfmt-dev libgtest-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "s2c setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -x /usr/local/cuda/bin/ptxas ]; then
  echo "s2c setup: warning: /usr/local/cuda/bin/ptxas not found; PTX assembly tests need the CUDA toolkit" >&2
fi

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
shift || true
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
echo "s2c setup: configured $build"
