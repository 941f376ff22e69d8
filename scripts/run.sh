#!/usr/bin/env bash
# The main job: builds s2c (installing what is missing), then compiles an
# example pattern and shows what came out -- the analysis report with the
# block masks, the s2 dialect IR, the tiled schedule, and the bundle with its
# PTX kernels.
#   scripts/run.sh [PATTERN_FILE]      (default: examples/patterns/s2_hybrid.s2)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pattern=${1:-$top/examples/patterns/s2_hybrid.s2}
jobs=${S2C_JOBS:-2}
"$top/scripts/setup.sh" "$top/build"
ninja -C "$top/build" -j"$jobs" s2c s2-bundle >/dev/null
s2c="$top/build/bin/s2c"
out="$top/build/out"
mkdir -p "$out"
name=$(basename "$pattern" .s2)

banner() { printf '\n==== %s ====\n' "$*"; }
banner "pattern file: $pattern"
cat "$pattern"
banner "s2c inspect (analyses and block masks at 8192 tokens)"
"$s2c" inspect "$pattern" --seq-len 8192 --svg "$out/$name.svg"
echo "(picture of every head's block mask: $out/$name.svg)"
banner "s2c compile --emit=mlir (the s2 dialect)"
"$s2c" compile "$pattern" --emit=mlir
banner "s2c compile --emit=tiled (schedule after s2-tile and s2-merge-q)"
"$s2c" compile "$pattern" --emit=tiled
banner "s2c compile -o $out/$name.s2m (the bundle)"
t0=$(date +%s.%N)
"$s2c" compile "$pattern" -o "$out/$name.s2m"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "compiled in %.2f s\n", b - a }' 
"$top/build/runtime/s2-bundle" info "$out/$name.s2m"
"$s2c" compile "$pattern" --emit=ptx -o "$out/$name.ptx"
banner "first lines of the PTX ($out/$name.ptx)"
grep -m1 -n '\.entry' "$out/$name.ptx" || true
head -n 30 "$out/$name.ptx"
