#!/usr/bin/env bash
# Builds the runtime alone (cmake -S runtime: a C++ compiler and the CUDA
# headers, no MLIR) for the scripts that run on the lent GPU machine
# (bench/run.sh, bench/ab.sh, test/gpu/run.sh, test/gpu/sp.sh), in Release
# without its tests, into $S2C_GPU_BUILD (default build-gpu/), and prints
# that folder. Exit status 3, with the logs' ends on stderr, when the
# runtime does not build.
#   build=$(scripts/build-runtime.sh TARGET...) || exit 3
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${S2C_GPU_BUILD:-$top/build-gpu}
mkdir -p "$build"
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if ! cmake -S "$top/runtime" -B "$build" "${gen[@]}" \
     -DCMAKE_BUILD_TYPE=Release -DS2RT_BUILD_TESTS=OFF \
     >"$build/configure.log" 2>&1 ||
   ! cmake --build "$build" -j"$(nproc)" --target "$@" \
     >"$build/build.log" 2>&1; then
  echo "the runtime did not build:" >&2
  tail -n 40 "$build/configure.log" "$build/build.log" >&2
  exit 3
fi
echo "$build"
