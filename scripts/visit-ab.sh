#!/usr/bin/env bash
# One GPU visit for a kernel change: the smoke tier on the new kernels with
# TMA and the sanitizers (one case per distinct kernel), the smoke tier
# again with S2RT_TMA=0 (the cp.async producer), then same-machine A/B runs
# of old and new benchmark bundles (bench/ab.sh), one per pair. Everything
# lands in OUT/visit.tgz (the device returns only a few files).
#   scripts/visit-ab.sh "CHECK_DIR..." ROUNDS A:B [A:B ...] [-- bench.py opts]
# No timing is run when a correctness check fails.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage='usage: scripts/visit-ab.sh "CHECK_DIR..." ROUNDS A:B [A:B...] [-- opts]'
read -r -a checks <<<"${1:?$usage}"
rounds=${2:?$usage}
shift 2
pairs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  pairs+=("$1")
  shift
done
[ "${1:-}" = -- ] && shift
: "${OUT:?OUT must be set}"
res="$OUT/visit"
mkdir -p "$res"
header="visit-ab: $(nvidia-smi --query-gpu=name --format=csv,noheader)\
 $(date -u '+%Y-%m-%d %H:%M') UTC"
echo "$header"
status=0
"$top/test/gpu/run.sh" smoke "${checks[@]}" --sanitize --budget 300 \
  --results-dir "$res/smoke-tma" >"$res/smoke-tma.log" 2>&1 || status=1
grep -E "^FAIL|sanitizer|^summary" "$res/smoke-tma.log" | head -12
S2RT_TMA=0 "$top/test/gpu/run.sh" smoke "${checks[@]}" --no-sanitize \
  --results-dir "$res/smoke-cpasync" >"$res/smoke-cpasync.log" 2>&1 ||
  status=1
grep -E "^FAIL|^summary" "$res/smoke-cpasync.log" | head -8
if [ "$status" -ne 0 ]; then
  echo "visit-ab: a correctness check failed; no timing"
else
  i=0
  for pair in "${pairs[@]}"; do
    i=$((i + 1))
    echo "== A/B $i: A=${pair%%:*} B=${pair#*:}"
    {
      echo "$header, A=${pair%%:*} B=${pair#*:}, $rounds rounds"
      OUT="$res/ab$i" "$top/bench/ab.sh" "${pair%%:*}" "${pair#*:}" \
        "$rounds" "$@" 2>&1 | grep -v '^device:'
    } | tee "$res/ab$i.log"
  done
fi
tar -C "$OUT" -czf "$OUT/visit.tgz" visit && rm -rf "$res"
# check.py also writes its JSON to $OUT itself: those copies are in the
# tarball already.
rm -f "$OUT"/*.json
exit "$status"
