#!/usr/bin/env python3
"""Plots benchmark JSON (bench.py's output): time against sequence length.

One panel per (pattern, head dim): s2c, FlashAttention-2 (dense causal, the
baseline), cuDNN and FlexAttention, log-log. Needs matplotlib (not needed by
the benchmark itself):

    bench/plot.py bench/results/X-d128.json [more.json] -o docs/bench-d128.svg
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--patterns", default="",
                    help="comma-separated patterns to draw (default: all "
                         "without '@' variants)")
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, device, date = [], "", ""
    for f in args.json:
        d = json.load(open(f))
        rows += d["rows"]
        device, date = d["device"], d["date"]
    pats = [p for p in dict.fromkeys(r["pattern"] for r in rows)
            if p != "dense-causal" and "@" not in p]
    if args.patterns:
        pats = args.patterns.split(",")
    dims = sorted({r["head_dim"] for r in rows})
    fig, axes = plt.subplots(len(dims), len(pats), squeeze=False,
                             figsize=(3.2 * len(pats), 3.0 * len(dims)))
    styles = {"s2c": ("tab:red", "o"), "fa2": ("black", "s"),
              "cudnn": ("tab:gray", "^"), "flex": ("tab:blue", "d")}
    for i, d in enumerate(dims):
        for j, p in enumerate(pats):
            ax = axes[i][j]
            for prov, (color, marker) in styles.items():
                if prov in ("fa2", "cudnn"):
                    # Dense baselines: one time per length, any pattern row.
                    pts = sorted((r["seq"], r["ms"]) for r in rows
                                 if r["provider"] == prov and
                                 r["head_dim"] == d and r.get("ms") and
                                 "@" not in r["pattern"])
                    pts = sorted(dict(pts).items())
                else:
                    pts = sorted((r["seq"], r["ms"]) for r in rows
                                 if r["provider"] == prov and
                                 r["pattern"] == p and r["head_dim"] == d
                                 and r.get("ms"))
                if pts:
                    ax.plot([x for x, _ in pts], [y for _, y in pts],
                            color=color, marker=marker, label=prov)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{p}, d{d}", fontsize=9)
            ax.set_xlabel("tokens", fontsize=8)
            ax.set_ylabel("ms", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"forward time, bf16, B=1, H=32 ({device}, {date}); "
                 "fa2/cudnn: dense causal", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
