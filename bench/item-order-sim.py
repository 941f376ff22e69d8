"""How many heads the work items in flight span, by item order (no GPU).

    python3 bench/item-order-sim.py [--heads 32] [--ctas 132] [--tiles 64,256,1024]

Models dense causal attention: item w = (query tile x, head y) with x
fastest and heaviest first, taking X - x key tiles plus a fixed cost of 5.
Compares the hardware's greedy order (each free CTA takes the next item)
with a persistent kernel's static stride (CTA b takes b, b + G, ...), and
prints the makespan and the mean and largest number of distinct heads
among the items in flight (sampled at 199 instants). Used for
docs/kernels.md, "Persistent kernels": the static stride spread the items
over more heads, whose K and V then left L2.
"""
import argparse
import heapq


def runs_greedy(n, ctas, dur):
    free = [(0.0, c) for c in range(ctas)]
    heapq.heapify(free)
    out = []
    for w in range(n):
        t, c = heapq.heappop(free)
        out.append((t, t + dur(w), w))
        heapq.heappush(free, (t + dur(w), c))
    return out


def runs_static(n, ctas, dur):
    out = []
    for c in range(ctas):
        t = 0.0
        for w in range(c, n, ctas):
            out.append((t, t + dur(w), w))
            t += dur(w)
    return out


def spread(runs, tiles):
    end = max(r[1] for r in runs)
    counts = []
    for i in range(1, 200):
        s = end * i / 200
        counts.append(len({w // tiles for a, b, w in runs if a <= s < b}))
    return end, sum(counts) / len(counts), max(counts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--ctas", type=int, default=132)
    ap.add_argument("--tiles", default="64,256,1024",
                    help="query tiles a head (sequence / 128)")
    a = ap.parse_args()
    print("tiles  order   makespan  heads in flight (mean, max)")
    for x in (int(v) for v in a.tiles.split(",")):
        n = x * a.heads

        def dur(w, x=x):
            return (x - w % x) + 5
        for name, fn in (("greedy", runs_greedy), ("static", runs_static)):
            end, mean, most = spread(fn(n, a.ctas, dur), x)
            print(f"{x:5d}  {name:6s}  {end:8.0f}  {mean:.2f}, {most}")


if __name__ == "__main__":
    main()
