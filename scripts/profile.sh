#!/usr/bin/env bash
# Nsight Compute on the lent GPU: one forward (bench/one.py) of bundle
# PATTERN.s2m from each folder, its second launch profiled (speed of light,
# memory, launch, occupancy and warp-state sections, L2 hit rate).
#   scripts/profile.sh SEQ PATTERN DIR...
# With SASS_DIR set, each profile also samples warp stalls per instruction
# and writes the SASS source page as CSV to SASS_DIR/<folder>-PATTERN.csv
# (characters other than letters, digits, . _ - replaced by _)
# (bench/stall-regions.py sums it by region).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seq=${1:?usage: scripts/profile.sh SEQ PATTERN DIR...}
pat=${2:?usage: scripts/profile.sh SEQ PATTERN DIR...}
shift 2
build=$("$top/scripts/build-runtime.sh" s2rt s2oracle) || exit 3
export S2C_LIBS2RT="$build/libs2rt.so" S2C_ORACLE="$build/libs2oracle.so"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "profile.sh: no ncu"; exit 3; }
for dir in "$@"; do
  echo "== $dir/$pat.s2m, $seq tokens"
  extra=()
  rep=""
  if [ -n "${SASS_DIR:-}" ]; then
    mkdir -p "$SASS_DIR"
    rep="$SASS_DIR/$(basename "$dir")-$(echo "$pat" | tr -c 'A-Za-z0-9_.\n-' _)"
    extra=(--section SourceCounters --import-source no -f -o "$rep")
  fi
  "$ncu" --kernel-name regex:s2_fwd --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section LaunchStats --section Occupancy --section WarpStateStats \
    --metrics lts__t_sector_hit_rate.pct,dram__bytes_read.sum,sm__cycles_active.avg \
    "${extra[@]}" python3 "$top/bench/one.py" "$dir/$pat.s2m" "$seq" 2>&1 |
    grep -vE '^==PROF==|^\s*$|----'
  if [ -n "$rep" ]; then
    "$ncu" --import "$rep.ncu-rep" --page source --print-source sass --csv \
      >"$rep.csv" 2>&1
    "$ncu" --import "$rep.ncu-rep" --print-details all \
      --section WarpStateStats --section SpeedOfLight 2>&1 | head -80
    rm -f "$rep.ncu-rep"
    echo "profile.sh: $(wc -l <"$rep.csv") lines in $rep.csv"
  fi
done
