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
build=${S2C_GPU_BUILD:-$top/build-gpu}
mkdir -p "$build"
if ! cmake -S "$top/runtime" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DS2RT_BUILD_TESTS=OFF >"$build/configure.log" 2>&1 ||
   ! cmake --build "$build" -j"$(nproc)" --target s2rt s2oracle \
     >"$build/build.log" 2>&1; then
  echo "bench/run.sh: the runtime did not build"
  tail -40 "$build/configure.log" "$build/build.log"
  exit 3
fi
export S2C_LIBS2RT="$build/libs2rt.so" S2C_ORACLE="$build/libs2oracle.so"
export PYTHONUNBUFFERED=1
exec python3 "$top/bench/bench.py" --bundles "$bundles" "$@"
