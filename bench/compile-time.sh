#!/usr/bin/env bash
# Times `s2c compile` on every example pattern (no GPU needed): to PTX (one
# kernel, sm_90a) and to a whole bundle (both targets, PTX plus cubins when
# ptxas is installed). Prints a table; wall-clock seconds, best of 3 runs.
#   bench/compile-time.sh            (uses build/bin/s2c)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
s2c=${S2C:-$top/build/bin/s2c}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
best() { # best wall time of 3 runs of "$@", in seconds
  local b=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    b=$(awk -v a="$t0" -v c="$t1" -v b="$b" \
      'BEGIN { t = c - a; if (b == "" || t < b) b = t; printf "%.3f", b }')
  done
  echo "$b"
}
echo "s2c compile time on $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-20s %8s %8s\n' pattern "ptx s" "bundle s"
for f in "$top"/examples/patterns/*.s2; do
  n=$(basename "$f" .s2)
  p=$(best "$s2c" compile "$f" --emit=ptx --target sm_90a -o "$tmp/$n.ptx")
  b=$(best "$s2c" compile "$f" -o "$tmp/$n.s2m")
  printf '%-20s %8s %8s\n' "$n" "$p" "$b"
done
