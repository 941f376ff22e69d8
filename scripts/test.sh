#!/usr/bin/env bash
# Builds s2c and runs every test that needs no GPU: lit (IR, driver,
# diagnostics, PTX assembly through ptxas), GoogleTest (oracle, schedules,
# bundle, runtime status paths, frontend fuzzing) and the Python binding's
# CPU-side tests, all through CTest. A second, sanitizer-instrumented build
# runs the frontend fuzz test under AddressSanitizer and UBSan.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${S2C_JOBS:-2}

"$top/scripts/setup.sh" "$top/build"
ninja -C "$top/build" -j"$jobs"

"$top/scripts/setup.sh" "$top/build-asan" -DS2C_ENABLE_SANITIZERS=ON
ninja -C "$top/build-asan" -j"$jobs" FrontendFuzzTest
(cd "$top/build-asan" && ctest --output-on-failure -R FrontendFuzzTest)

cd "$top/build"
ctest --output-on-failure -j"$jobs"
