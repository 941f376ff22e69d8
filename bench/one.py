"""One forward of a bundle on fresh random data, for profilers (ncu, nsys).

    python3 bench/one.py BUNDLE SEQ [--head-dim D] [--reps N]

Runs N forwards of bf16 (1, SEQ, H, D) inputs (H and KV heads from the
bundle) on the current GPU; a profiler picks the launches it wants.
"""
import argparse
import os
import sys

import torch  # before any ctypes library (see test/gpu/check.py)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import s2c  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("seq", type=int)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    b = s2c.Bundle(a.bundle)
    dev = torch.device("cuda")
    q = torch.randn(1, a.seq, b.heads, a.head_dim, device=dev,
                    dtype=torch.bfloat16)
    k = torch.randn(1, a.seq, b.kv_heads, a.head_dim, device=dev,
                    dtype=torch.bfloat16)
    v = torch.randn_like(k)
    for _ in range(a.reps):
        s2c.attention(b, q, k, v)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
