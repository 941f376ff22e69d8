#!/usr/bin/env bash
# Compiles the benchmark bundles (bench/patterns/*.s2, sm_90a kernels with
# cubins) into DIR with the cost model's tiles for any head dim, plus
# 128x64-tile variants (NAME@m128n64.s2m; at head dim 128 the key-tile
# pairs kernel the cost model picks for 64-token blocks on sm_90a) and
# head-dim-128 128x128 variants of the two whose blocks fill 128-key tiles
# (NAME@m128n128.s2m), so that the tile choice is measured too.
#   bench/compile-bundles.sh DIR [s2c compile flags, e.g. --mma sync]
# Extra flags go to every compile: `--mma sync` gives the mma.sync sm_90a
# kernels (the default is wgmma).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/compile-bundles.sh DIR [s2c flags]}
shift
s2c=${S2C:-$top/build/bin/s2c}
mkdir -p "$out"
for f in "$top"/bench/patterns/*.s2; do
  n=$(basename "$f" .s2)
  "$s2c" compile "$f" --target sm_90a "$@" -o "$out/$n.s2m"
done
for n in dense_causal s2_b64_l16_v16 s2_b64_l16_v64 hybrid_b64_l16_v16; do
  "$s2c" compile "$top/bench/patterns/$n.s2" --target sm_90a "$@" \
    --block-m 128 --block-n 64 -o "$out/$n@m128n64.s2m"
done
for n in dense_causal s2_b128_l8_v16; do
  "$s2c" compile "$top/bench/patterns/$n.s2" --target sm_90a "$@" \
    --head-dim 128 --block-m 128 --block-n 128 -o "$out/$n@m128n128.s2m"
done
ls "$out"
