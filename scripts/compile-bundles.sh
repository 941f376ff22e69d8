#!/usr/bin/env bash
# Compiles the bundles the GPU checks run: every example pattern with its
# own settings, plus test/gpu/patterns/*.s2 (patterns that leave dtype and
# head dim open, so every kernel variant is built and checked), into DIR.
# Needs a built s2c (scripts/setup.sh + ninja). Carry DIR to the GPU machine.
#   scripts/compile-bundles.sh DIR [extra s2c compile flags]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/compile-bundles.sh DIR [s2c flags]}
shift
s2c=${S2C:-$top/build/bin/s2c}
mkdir -p "$out"
for f in "$top"/examples/patterns/*.s2 "$top"/test/gpu/patterns/*.s2; do
  [ -f "$f" ] || continue
  n=$(basename "$f" .s2)
  "$s2c" compile "$f" -o "$out/$n.s2m" "$@"
  echo "compiled $n.s2m"
done
