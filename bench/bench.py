#!/usr/bin/env python3
"""s2c forward kernels against the peers, on the lent GPU machine.

For every bundle (one compiled pattern each) and every sequence length and
head dimension it times, with CUDA events (warm-up, then the median of many
runs, inputs rotated among fresh random sets):

  s2c        the bundle's kernel through the PyTorch binding
  fa2        torch SDPA, FlashAttention-2 backend, dense causal (the baseline)
  cudnn      torch SDPA, cuDNN backend, dense causal
  flex       FlexAttention (torch.compile) with the pattern's exact mask,
             built as a BlockMask from the oracle's block mask

Before a provider is timed its output is checked: flex against s2c on every
pattern; fa2 and cudnn against s2c on dense causal patterns (on sparse
patterns they compute a different function, dense attention, and serve only
as the speed baseline). A provider that fails (out of memory, compile error,
wrong output) is recorded as such and the run goes on.

Prints a table (time, speed-up over fa2, useful TFLOP/s = 4*B*H*D*pairs/t)
and writes JSON: bench.py --bundles DIR [--lens 8192,32768,131072]
[--dims 64,128] [--out DIR].
"""

import argparse
import datetime
import glob
import json

import os
import sys
import time


import torch  # before any ctypes library (see test/gpu/check.py)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "test", "gpu"))
import s2c  # noqa: E402
from reference import Oracle  # noqa: E402  (the oracle's ctypes binding)


def block_mask(orc, heads, nb):
    """The oracle's block masks of every head, uint8 [heads, nb, nb]."""
    import numpy as np
    return np.stack([orc.block_mask(h, nb, nb) for h in range(heads)]
                    ).astype(np.uint8)


def visible_pairs(orc, heads, s):
    return sum(orc.count_pairs(h, s, s) for h in range(heads))


def time_fn(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2], times


def rel_err(x, ref):
    x = x.float()
    ref = ref.float()
    return (torch.linalg.vector_norm(x - ref) /
            torch.linalg.vector_norm(ref)).item()


def flex_block_mask(bm_np, block, s, causal, fblock=128):
    """An exact FlexAttention BlockMask from the oracle's block mask.

    FlexAttention's kernels need blocks of at least their own tile (128), so
    pattern blocks are grouped into fblock x fblock flex blocks: a flex block
    is "full" when every pattern block in it is visible and no token in it
    is hidden by causality or the sequence end, "partial" (mask_mod decides
    per element, exactly) when some are visible, absent otherwise.
    """
    from torch.nn.attention.flex_attention import BlockMask
    dev = "cuda"
    fblock = max(fblock, block)
    r = fblock // block
    bm = torch.from_numpy(bm_np).to(dev).bool()          # [H, nb, nb]
    H, nb, _ = bm.shape
    nf = (nb + r - 1) // r
    pad = nf * r - nb
    bmp = torch.nn.functional.pad(bm, (0, pad, 0, pad))  # hidden padding
    g = bmp.view(H, nf, r, nf, r)
    anyv = g.any(dim=4).any(dim=2)
    allv = g.all(dim=4).all(dim=2)
    idx = torch.arange(nf, device=dev)
    # Flex block (i, j) holds no causally hidden token when j < i.
    below = (idx[None, :] < idx[:, None])[None] if causal else \
        torch.ones(1, nf, nf, dtype=torch.bool, device=dev)
    full = allv & below
    if s % fblock:  # the last key flex block is cut by the sequence end
        full[:, :, nf - 1] = False
    partial = anyv & ~full

    def to_idx(m):
        num = m.sum(-1).to(torch.int32)
        order = torch.argsort((~m).to(torch.int8), dim=-1, stable=True)
        return num[None], order.to(torch.int32)[None]

    kv_num, kv_idx = to_idx(partial)
    full_num, full_idx = to_idx(full)
    bmask = bm

    def mask_mod(b, h, q, kv):
        ok = bmask[h, q // block, kv // block]
        if causal:
            ok = ok & (kv <= q)
        return ok

    return BlockMask.from_kv_blocks(kv_num, kv_idx, full_num, full_idx,
                                    BLOCK_SIZE=fblock, mask_mod=mask_mod,
                                    seq_lengths=(s, s))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--lens", default="8192,32768,131072")
    ap.add_argument("--dims", default="128,64")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--providers", default="s2c,fa2,cudnn,flex")
    ap.add_argument("--budget", type=float, default=520.0)
    args = ap.parse_args()
    start = time.time()
    providers = args.providers.split(",")
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    device_name = props.name
    date = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    print(f"device: {device_name}, torch {torch.__version__}, {date}",
          flush=True)

    flex = None
    if "flex" in providers:
        try:
            from torch.nn.attention.flex_attention import flex_attention
            flex = torch.compile(flex_attention, dynamic=False)
        except Exception as err:  # noqa: BLE001
            print(f"flex unavailable: {err}")

    from torch.nn.attention import SDPBackend, sdpa_kernel
    F = torch.nn.functional

    files = sorted(glob.glob(os.path.join(args.bundles, "*.s2m")))
    lens = [int(x) for x in args.lens.split(",")]
    dims = [int(x) for x in args.dims.split(",")]
    rows = []
    baseline = {}  # (s, d) -> fa2 ms
    for f in files:
        bundle = s2c.Bundle(f)
        name = os.path.splitext(os.path.basename(f))[0]
        H, KV, blk = bundle.heads, bundle.kv_heads, bundle.block
        causal = bool(bundle.causal)
        orc = Oracle(bundle.pattern_text)
        for d in dims:
            if not bundle.supports("bf16", d):
                continue
            for s in lens:
                if time.time() - start > args.budget:
                    rows.append({"pattern": name, "seq": s, "head_dim": d,
                                 "provider": "-", "status": "not run (budget)"})
                    continue
                B = 1
                pairs = visible_pairs(orc, H, s)
                flops = 4.0 * B * d * pairs  # pairs is summed over heads
                dense_pairs = H * (s * (s + 1) // 2 if causal else s * s)
                density = pairs / dense_pairs
                nsets = 2 if s <= 32768 else 1
                sets = []
                for _ in range(nsets):
                    q = torch.randn(B, s, H, d, device=dev, dtype=torch.bfloat16)
                    k = torch.randn(B, s, KV, d, device=dev, dtype=torch.bfloat16)
                    v = torch.randn(B, s, KV, d, device=dev, dtype=torch.bfloat16)
                    sets.append((q, k, v))
                reps = 20 if s <= 8192 else (10 if s <= 32768 else 5)
                it = [0]

                def pick():
                    x = sets[it[0] % len(sets)]
                    it[0] += 1
                    return x

                ref = None
                q0, k0, v0 = sets[0]
                # -- s2c
                try:
                    ref = s2c.attention(bundle, q0, k0, v0)
                    torch.cuda.synchronize()
                    if torch.isnan(ref).any():
                        raise RuntimeError("NaN in s2c output")
                    ms, _ = time_fn(lambda: s2c.attention(bundle, *pick()),
                                    reps, 3)
                    rows.append({"pattern": name, "seq": s, "head_dim": d,
                                 "provider": "s2c", "ms": ms,
                                 "density": density,
                                 "tflops": flops / ms / 1e9, "status": "ok"})
                except Exception as err:  # noqa: BLE001
                    rows.append({"pattern": name, "seq": s, "head_dim": d,
                                 "provider": "s2c", "status": f"error: {err}"})
                # -- dense peers (baseline once per (s, d), checked on dense
                #    causal patterns)
                is_dense = abs(density - 1.0) < 1e-12 and causal
                for prov, backend in (("fa2", SDPBackend.FLASH_ATTENTION),
                                      ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                    if prov not in providers:
                        continue
                    if (prov, s, d) in baseline and not is_dense:
                        continue
                    try:
                        def run(qkv=None, backend=backend):
                            q, k, v = qkv or pick()
                            qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))
                            if KV != H:
                                kh = kh.repeat_interleave(H // KV, dim=1)
                                vh = vh.repeat_interleave(H // KV, dim=1)
                            with sdpa_kernel(backend):
                                return F.scaled_dot_product_attention(
                                    qh, kh, vh, is_causal=True)
                        out = run((q0, k0, v0)).transpose(1, 2)
                        err_ = rel_err(out, ref) if (is_dense and ref is not None) else None
                        if err_ is not None and not err_ < 2e-2:
                            raise RuntimeError(f"output differs from s2c: {err_:.2e}")
                        del out
                        ms, _ = time_fn(run, reps, 2)
                        baseline[(prov, s, d)] = ms
                        rows.append({"pattern": name if is_dense else "dense-causal",
                                     "seq": s, "head_dim": d, "provider": prov,
                                     "ms": ms, "check_vs_s2c": err_,
                                     "tflops": 4.0 * B * d * H * (s * (s + 1) // 2) / ms / 1e9,
                                     "status": "ok"})
                    except Exception as err:  # noqa: BLE001
                        baseline[(prov, s, d)] = None
                        rows.append({"pattern": "dense-causal", "seq": s,
                                     "head_dim": d, "provider": prov,
                                     "status": f"error: {str(err)[:300]}"})
                        torch.cuda.empty_cache()
                # -- FlexAttention with the exact mask: at the pattern's own
                #    block size with matching kernel tiles where it runs, and
                #    with 128-token blocks (its default tiles); the faster
                #    correct one is reported.
                if flex is not None and ref is not None:
                    nb = (s + blk - 1) // blk
                    bm_np = block_mask(orc, H, nb)
                    configs = [(128, None)]
                    if blk < 128:
                        configs.insert(0, (blk, {"BLOCK_M": blk,
                                                 "BLOCK_N": blk}))
                    best, errors = None, []
                    for fblock, kopts in configs:
                        try:
                            bmask = flex_block_mask(bm_np, blk, s, causal,
                                                    fblock=fblock)

                            def runf(qkv=None, bmask=bmask, kopts=kopts):
                                q, k, v = qkv or pick()
                                qh, kh, vh = (x.transpose(1, 2)
                                              for x in (q, k, v))
                                return flex(qh, kh, vh, block_mask=bmask,
                                            enable_gqa=(KV != H),
                                            kernel_options=kopts)
                            out = runf((q0, k0, v0)).transpose(1, 2)
                            err_ = rel_err(out, ref)
                            del out
                            if not err_ < 2e-2:
                                raise RuntimeError(
                                    f"output differs from s2c: {err_:.2e}")
                            ms, _ = time_fn(runf, reps, 2)
                            if best is None or ms < best[0]:
                                best = (ms, err_, fblock)
                        except Exception as err:  # noqa: BLE001
                            errors.append(f"blocks {fblock}: {str(err)[:200]}")
                    if best:
                        rows.append({"pattern": name, "seq": s, "head_dim": d,
                                     "provider": "flex", "ms": best[0],
                                     "check_vs_s2c": best[1],
                                     "flex_block": best[2],
                                     "flex_errors": errors,
                                     "tflops": flops / best[0] / 1e9,
                                     "status": "ok"})
                    else:
                        rows.append({"pattern": name, "seq": s, "head_dim": d,
                                     "provider": "flex",
                                     "status": "error: " + "; ".join(errors)})
                sets = ref = None
                torch.cuda.empty_cache()

    # speed-ups over fa2 (dense causal, same s and d)
    for r in rows:
        base = baseline.get(("fa2", r["seq"], r["head_dim"]))
        if r.get("ms") and base:
            r["speedup_vs_fa2"] = base / r["ms"]
    print(f"\n{'pattern':<22} {'seq':>7} {'d':>4} {'provider':<8} {'ms':>9} "
          f"{'x fa2':>7} {'TFLOP/s':>8}  status")
    for r in rows:
        ms = f"{r['ms']:.3f}" if r.get("ms") else "-"
        sp = f"{r['speedup_vs_fa2']:.2f}" if r.get("speedup_vs_fa2") else "-"
        tf = f"{r['tflops']:.0f}" if r.get("tflops") else "-"
        print(f"{r['pattern']:<22.22} {r['seq']:>7} {r['head_dim']:>4} "
              f"{r['provider']:<8} {ms:>9} {sp:>7} {tf:>8}  {r['status'][:60]}")
    result = {"device": device_name, "date": date,
              "torch": torch.__version__, "cuda": torch.version.cuda,
              "command": " ".join(sys.argv), "rows": rows}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bench.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
