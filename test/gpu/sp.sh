#!/usr/bin/env bash
# Sequence-parallel checks and timings on the lent machine (issue 8): builds
# the runtime alone with s2-sp-run, then
#  1. virtual ranks on device 0 (every lent kind): several patterns, rank
#     counts and balancings against one whole-sequence launch and an fp64
#     reference of sampled rows;
#  2. with two or more GPUs: NCCL ranks (2, 4, 8 up to the device count),
#     the same checks, and timings of the plan against the dense ring (every
#     key shard sent) and one device.
#
#   test/gpu/sp.sh CHECK_BUNDLES BENCH_BUNDLES [quick]
#
# CHECK_BUNDLES: scripts/compile-bundles.sh output; BENCH_BUNDLES:
# bench/compile-bundles.sh output. JSON of every run goes to $OUT/sp (when
# set) and test/gpu/results/sp-<date>/. Exit 1 when a check failed, 3 when
# the runtime did not build.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
checks=${1:?usage: test/gpu/sp.sh CHECK_BUNDLES BENCH_BUNDLES [quick]}
benches=${2:?usage: test/gpu/sp.sh CHECK_BUNDLES BENCH_BUNDLES [quick]}
quick=${3:-}
build=$("$top/scripts/build-runtime.sh" s2-sp-run) || exit 3
run=$build/s2-sp-run
stamp=$(date -u +%Y%m%d-%H%M)
res=$top/test/gpu/results/sp-$stamp
mkdir -p "$res"
[ -n "${OUT:-}" ] && mkdir -p "$OUT/sp"

# NCCL: the system's, else the one PyTorch ships.
if [ -z "${S2RT_LIBNCCL:-}" ] && ! ldconfig -p 2>/dev/null | grep -q libnccl.so.2; then
  cand=$(python3 - <<'EOF' 2>/dev/null
import glob, os
try:
    import nvidia.nccl as m
    roots = list(m.__path__)
except Exception:
    roots = []
import site
roots += [os.path.join(p, "nvidia", "nccl") for p in site.getsitepackages()]
for r in roots:
    for f in glob.glob(os.path.join(r, "lib", "libnccl.so*")):
        print(f); raise SystemExit
EOF
)
  [ -n "$cand" ] && export S2RT_LIBNCCL=$cand
fi
echo "sp.sh: NCCL ${S2RT_LIBNCCL:-libnccl.so.2 (system)}"
ndev=$(nvidia-smi -L 2>/dev/null | wc -l)
echo "sp.sh: $ndev GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"

fails=0
one() { # name, args...
  local name=$1
  shift
  echo "== $name: $*"
  "$run" "$@" --json "$res/$name.json" >"$res/$name.log" 2>&1
  local rc=$?
  cat "$res/$name.log"
  # $OUT gets two files in all (the device returns only a few files).
  { echo "== $name: $*"; cat "$res/$name.log"; } >>"$res/all.log"
  [ -f "$res/$name.json" ] && tr -d '\n' <"$res/$name.json" >>"$res/all.jsonl" &&
    echo >>"$res/all.jsonl"
  [ -n "${OUT:-}" ] && cp "$res/all.log" "$res/all.jsonl" "$OUT/sp/" 2>/dev/null
  if [ $rc -ne 0 ]; then
    echo "!! $name failed (exit $rc)"
    fails=$((fails + 1))
  fi
}

# 1. Virtual ranks: correctness over patterns, rank counts, balancings and
#    ragged lengths (timings here share one GPU and mean little).
for b in open_gqa open_bidirectional s2_hybrid bigbird context_ranges; do
  f=$checks/$b.s2m
  [ -f "$f" ] || { echo "sp.sh: missing $f"; fails=$((fails + 1)); continue; }
  for P in 2 3 4; do
    for bal in auto kv-owner query-rows; do
      [ -n "$quick" ] && [ "$bal" != auto ] && continue
      one "virtual-$b-P$P-$bal" "$f" --mode virtual --ranks $P --seq 5000 \
        --balance $bal --repeat 3 --check-rows 128
    done
  done
done
one "virtual-open_gqa-P5-batch2" "$checks/open_gqa.s2m" --mode virtual \
  --ranks 5 --seq 3001 --batch 2 --repeat 2 --check-rows 128

# compute-sanitizer over one small virtual run (windowed launches address
# keys by absolute position through pointers moved before their buffers).
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$san" ]; then
  for tool in memcheck racecheck; do
    echo "== sanitize-$tool"
    "$san" --tool $tool --error-exitcode 9 "$run" "$checks/open_gqa.s2m" \
      --mode virtual --ranks 3 --seq 1500 --repeat 1 --warmup 0 --no-ring \
      --check-rows 16 >"$res/sanitize-$tool.log" 2>&1
    rc=$?
    tail -3 "$res/sanitize-$tool.log"
    { echo "== sanitize-$tool"; tail -5 "$res/sanitize-$tool.log"; } >>"$res/all.log"
    if [ $rc -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors\|RACECHECK SUMMARY: 0 hazards" "$res/sanitize-$tool.log"; then
      echo "!! sanitize-$tool failed (exit $rc)"
      fails=$((fails + 1))
    fi
  done
fi

# 2. NCCL ranks.
if [ "$ndev" -ge 2 ]; then
  for P in 2 4 8; do
    [ "$P" -le "$ndev" ] || continue
    one "nccl-open_gqa-P$P" "$checks/open_gqa.s2m" --mode nccl --ranks $P \
      --seq 9000 --repeat 3 --check-rows 128
    for n in s2_b64_l16_v16 dense_causal; do
      for S in 32768 131072; do
        [ -n "$quick" ] && [ "$S" -gt 32768 ] && continue
        one "nccl-$n-P$P-S$S" "$benches/$n.s2m" --mode nccl --ranks $P \
          --seq $S --head-dim 128 --repeat 10 --check-rows 64
      done
    done
  done
else
  echo "sp.sh: one GPU: NCCL runs skipped"
fi
echo "sp.sh: $fails failure(s); results in $res"
[ $fails -eq 0 ]
