#!/usr/bin/env bash
# The GPU checks, on the lent machine: builds the runtime alone (cmake -S
# runtime: a C++ compiler and the CUDA headers, no MLIR), then runs
# test/gpu/check.py on the given bundles.
#
#   test/gpu/run.sh smoke BUNDLE_DIR...            # < 3 minutes
#   test/gpu/run.sh full  BUNDLE_DIR... --shard 0/3  # one 10-minute call each
#   test/gpu/run.sh dry   BUNDLE_DIR...            # no GPU: validate + self-test
#
# Arguments after the bundle folders (starting with --) go to check.py
# (--shard I/N, --budget S, --sanitize, --no-sanitize, --results-dir DIR).
# Results: JSON under $OUT (when set) and test/gpu/results/. Exit status:
# 0 all passed, 1 something failed, 2 cases left unrun (time budget),
# 3 the runtime did not build.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tier=${1:-smoke}
shift || true
bundles=()
while [ $# -gt 0 ] && [[ "$1" != --* ]]; do
  bundles+=("$1")
  shift
done
[ ${#bundles[@]} -eq 0 ] && bundles=("$top/bundles")

t0=$(date +%s)
build=$("$top/scripts/build-runtime.sh" s2rt s2oracle s2-bundle) || exit 3
echo "run.sh: runtime built in $(( $(date +%s) - t0 ))s ($build)"

export S2C_LIBS2RT="$build/libs2rt.so"
export S2C_ORACLE="$build/libs2oracle.so"
export S2C_S2_BUNDLE="$build/s2-bundle"
export S2C_POISON=1
exec python3 "$top/test/gpu/check.py" --tier "$tier" \
  --bundles "${bundles[@]}" "$@"
