"""Warp-stall samples of a warp-specialised kernel by region (no GPU).

    python3 bench/stall-regions.py SASS.csv [--ctas N]

Reads the SASS source page that scripts/profile.sh writes with SASS_DIR set
(Nsight Compute's per-instruction "Warp Stall Sampling (All Samples)" and
"Instructions Executed") and sums the samples by region: before the roles
split (the first USETMAXREG), the consumers' code run once a CTA
(executed at most as often as the first instruction after the split), the
consumers' per-key-tile code (the rest of the consumers' branch), and the
producer's (after the USETMAXREG that lowers its registers). Also prints
the most-sampled instructions of each region. A stalled warp's sample
lands on the instruction it waits to issue: after a barrier, after a long
dependency, or at the end of the code while its stores drain.
"""
import argparse
import csv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=6)
    a = ap.parse_args()
    rows = [r for r in csv.reader(open(a.csv))
            if len(r) > 5 and r[0].startswith("0x")]
    head = next(r for r in csv.reader(open(a.csv)) if r and r[0] == "Address")
    si = head.index("Warp Stall Sampling (All Samples)")
    ei = head.index("Instructions Executed")
    split = next(i for i, r in enumerate(rows) if "TRY_ALLOC" in r[1])
    prod = next(i for i, r in enumerate(rows) if "DEALLOC" in r[1])
    # Executions of an instruction every consumer warp runs once: the
    # first instruction after the split.
    once = int(rows[split][ei] or 0)
    region = {}
    for i, r in enumerate(rows):
        n = int(r[ei] or 0)
        if i < split:
            k = "before the split (all warps)"
        elif i < prod:
            k = ("consumers, once a CTA" if n <= once
                 else "consumers, per key tile")
        else:
            k = "producer"
        region.setdefault(k, []).append(r)
    total = sum(int(r[si] or 0) for r in rows)
    print(f"{total} samples; consumer warps' once-a-CTA count {once}")
    for k in ("before the split (all warps)", "consumers, once a CTA",
              "consumers, per key tile", "producer"):
        rs = region.get(k, [])
        s = sum(int(r[si] or 0) for r in rs)
        print(f"{k:32s} {s:7d} {100.0 * s / max(total, 1):5.1f}%")
        for r in sorted(rs, key=lambda r: -int(r[si] or 0))[:a.top]:
            print(f"    {int(r[si] or 0):6d}  x{int(r[ei] or 0):<8d} "
                  f"{r[0][-5:]}  {r[1].strip()[:60]}")


if __name__ == "__main__":
    main()
