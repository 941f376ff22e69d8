#!/usr/bin/env python3
"""Builds test bundles from the codegen's preset kernels (bring-up tool).

Until `s2c compile --emit=bundle` exists, this wraps raw PTX into bundles
with the runtime's s2-bundle tool. For each preset it runs s2-kgen once per
(target, dtype, head dim) to get the PTX, the entry name, the thread count
and the dynamic shared memory, writes the preset's pattern as
s2::serializePattern text (mirroring codegen/tools/Presets.h) and packs all
variants into one bundle:

    make_bundles.py --kgen build-codegen/bin/s2-kgen \
        --s2-bundle build-runtime/runtime/s2-bundle --out bundles \
        [--presets causal,s2,dense,masked] [--heads 4 --kv-heads 2]

Each preset's pattern must match what s2-kgen compiled, so only presets
whose pattern this script knows are accepted (not "table": its table layout
belongs to the code generator).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def pattern_text(preset, heads, kv_heads, block, local, stride):
    """The serialised pattern of a Presets.h preset."""
    hs = " ".join(str(h) for h in range(heads))
    head_line = f"heads {heads} {hs}"
    name = {"causal": "causal", "dense": "dense", "s2": "s2",
            "masked": "masked"}[preset]
    causal = 0 if preset == "dense" else 1
    lines = ["s2pattern 1", f"name {name}",
             f"settings {heads} {kv_heads} {block} {causal} 0 any"]
    if preset in ("causal", "dense"):
        lines += ["rule dense 0 -1 0 0 0 0", head_line]
    else:
        group = heads // kv_heads
        step = max(1, stride // heads)
        shifts = " ".join(str((h // group) * step) for h in range(heads))
        lines += [f"rule local 0 -1 {local} 0 0 0", head_line,
                  f"rule stride 0 -1 0 {stride} 0 0", head_line,
                  f"shift {shifts}"]
    lines.append("end")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kgen", required=True)
    ap.add_argument("--s2-bundle", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--presets", default="causal,s2")
    ap.add_argument("--targets", default="sm_80,sm_90a")
    ap.add_argument("--dtypes", default="bf16,f16")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--local", type=int, default=4)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--block-m", type=int, default=64)
    ap.add_argument("--block-n", type=int, default=64)
    args = ap.parse_args()
    kv = args.kv_heads or args.heads
    os.makedirs(args.out, exist_ok=True)
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            if preset not in ("causal", "dense", "s2", "masked"):
                print(f"error: unknown preset '{preset}'", file=sys.stderr)
                status = 1
                continue
            pat = os.path.join(tmp, preset + ".txt")
            with open(pat, "w") as f:
                f.write(pattern_text(preset, args.heads, kv, args.block,
                                     args.local, args.stride))
            kernels = []
            for target in args.targets.split(","):
                for dt in args.dtypes.split(","):
                    for hd in args.head_dims.split(","):
                        ptx = os.path.join(
                            tmp, f"{preset}_{dt}_d{hd}_{target}.ptx")
                        cmd = [args.kgen, "--preset", preset, "--target",
                               target, "--dtype", dt, "--head-dim", hd,
                               "--heads", str(args.heads), "--kv-heads",
                               str(kv), "--block", str(args.block),
                               "--local", str(args.local), "--stride",
                               str(args.stride), "--block-m",
                               str(args.block_m), "--block-n",
                               str(args.block_n), "--emit=ptx", "--time",
                               "-o", ptx]
                        r = subprocess.run(cmd, capture_output=True,
                                           text=True)
                        m = re.search(r"kernel (\S+): .*threads (\d+), "
                                      r"shared (\d+) bytes", r.stderr)
                        if r.returncode != 0 or not m:
                            print(f"error: {' '.join(cmd)}:\n{r.stderr}",
                                  file=sys.stderr)
                            status = 1
                            continue
                        kernels.append(
                            f"name={m.group(1)},target={target},dtype={dt},"
                            f"head_dim={hd},block_m={args.block_m},"
                            f"block_n={args.block_n},threads={m.group(2)},"
                            f"smem={m.group(3)},ptx={ptx}")
            if not kernels:
                continue
            out = os.path.join(args.out, f"{preset}_h{args.heads}"
                               f"_kv{kv}.s2m")
            cmd = [args.s2_bundle, "create", "-o", out, "--pattern-text", pat,
                   "--setting", "source=make_bundles.py preset " + preset]
            for k in kernels:
                cmd += ["--kernel", k]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"error: {r.stderr}", file=sys.stderr)
                status = 1
                continue
            print(f"wrote {out} ({len(kernels)} kernels)")
    return status


if __name__ == "__main__":
    sys.exit(main())
