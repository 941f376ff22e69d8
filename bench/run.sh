#!/usr/bin/env bash
# The benchmark, on the lent GPU machine: builds the runtime alone (no MLIR),
# then times s2c's kernels against torch SDPA (FlashAttention-2 and cuDNN
# backends) and FlexAttention. Bundles are compiled beforehand with s2c on a
# machine with MLIR (bench/compile-bundles.sh) and carried along.
#
#   bench/run.sh BUNDLE_DIR [bench.py options]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bundles=${1:?usage: bench/run.sh BUNDLE_DIR [options]}
shift
build=$("$top/scripts/build-runtime.sh" s2rt s2oracle) || exit 3
export S2C_LIBS2RT="$build/libs2rt.so" S2C_ORACLE="$build/libs2oracle.so"
export PYTHONUNBUFFERED=1
exec python3 "$top/bench/bench.py" --bundles "$bundles" "$@"
