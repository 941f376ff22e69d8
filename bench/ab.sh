#!/usr/bin/env bash
# Same-machine A/B timing of two bundle folders (e.g. the kernels of two
# s2c builds) on the lent GPU: builds the runtime once, then runs bench.py
# on A, B, A, B, ... (ROUNDS each, s2c only) and prints each case's times
# and the ratio of A's best time to B's (above 1: B is faster). Full
# results under OUT/ab/.
#   bench/ab.sh A_DIR B_DIR ROUNDS [bench.py options, e.g. --dims 128]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
a=${1:?usage: bench/ab.sh A_DIR B_DIR ROUNDS [bench.py options]}
b=${2:?usage: bench/ab.sh A_DIR B_DIR ROUNDS [bench.py options]}
rounds=${3:?usage: bench/ab.sh A_DIR B_DIR ROUNDS [bench.py options]}
shift 3
out=${OUT:-.}/ab
mkdir -p "$out"
build=$("$top/scripts/build-runtime.sh" s2rt s2oracle) || exit 3
export S2C_LIBS2RT="$build/libs2rt.so" S2C_ORACLE="$build/libs2oracle.so"
export PYTHONUNBUFFERED=1
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    dir=$a
    [ "$side" = B ] && dir=$b
    mkdir -p "$out/$side$r"
    python3 "$top/bench/bench.py" --bundles "$dir" --providers s2c \
      --out "$out/$side$r" "$@" >"$out/$side$r/log" 2>&1 ||
      { echo "bench/ab.sh: bench.py failed on $dir"; tail -20 "$out/$side$r/log"; }
    head -1 "$out/$side$r/log"
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {}
for side in "AB":
    for r in range(1, rounds + 1):
        p = os.path.join(out, f"{side}{r}", "bench.json")
        if not os.path.exists(p):
            continue
        for row in json.load(open(p))["rows"]:
            if row.get("provider") == "s2c" and row.get("status") == "ok":
                key = (row["pattern"], row["seq"], row["head_dim"])
                runs.setdefault(key, {"A": [], "B": []})[side].append(row["ms"])
print(f"{'pattern':<28} {'seq':>7} {'d':>4} {'A ms':>18} {'B ms':>18} {'A/B':>6}")
for key in sorted(runs):
    t = runs[key]
    if not t["A"] or not t["B"]:
        print(f"{key[0]:<28.28} {key[1]:>7} {key[2]:>4}  missing on one side")
        continue
    fa = "/".join(f"{x:.2f}" for x in t["A"])
    fb = "/".join(f"{x:.2f}" for x in t["B"])
    ratio = min(t["A"]) / min(t["B"])
    print(f"{key[0]:<28.28} {key[1]:>7} {key[2]:>4} {fa:>18} {fb:>18} {ratio:>6.2f}")
PY
