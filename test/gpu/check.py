#!/usr/bin/env python3
"""GPU checks of compiled s2c bundles against an fp64 reference.

Usage (normally through test/gpu/run.sh, which builds the runtime first):

    check.py --tier smoke|full|dry --bundles DIR_OR_FILE... [--shard I/N]
             [--out DIR] [--results-dir DIR] [--budget SECONDS] [--sanitize]

For every bundle x (dtype, head dim) x target x layout ((B,S,H,D) and
(B,H,S,D) through strides) x sequence lengths (non-multiples of the block,
query shorter than key) x batch > 1 x GQA x head-offset shards x packed
varlen, on fresh random inputs ("normal", and "peaked" where one key
dominates every row) with NaN-poisoned outputs, it compares per (batch,
head) against an fp64 masked dense attention built from the oracle's token
mask, chunk by chunk:

    ||out - ref|| / ||ref|| < 1e-2 (bf16) or 2e-3 (f16); |LSE - ref| < 1e-2;
    no NaN anywhere; rows that see no key give exactly 0 and -inf.

The exact schedule probe (32k in smoke, 32k and 128k in full): with q = 0
every row's LSE must equal ln(number of keys the oracle allows) to 1e-3.
compute-sanitizer memcheck and racecheck run on a small case of each of the
first four distinct forward kernels the device runs (full tier or
--sanitize). A failing case is reported and the run goes on; the exit code
is 1 if anything failed, 2 if the time budget left cases unrun (rerun with
--shard), 0 otherwise.

--tier dry needs no GPU or torch: it validates the bundles, prints the case
list and self-tests the reference and the probe counts on the CPU (numpy).
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, HERE)

os.environ.setdefault("S2C_POISON", "1")

# torch must be imported before our ctypes libraries are loaded: loading them
# first made torch's own import crash on the H200 (2026-11-26).
try:
    import torch  # noqa: F401
except ImportError:  # the dry tier runs without torch
    torch = None

import reference  # noqa: E402
import s2c  # noqa: E402

TOL_OUT = {"bf16": 1e-2, "f16": 2e-3}
TOL_LSE = 1e-2
TOL_PROBE = 1e-3


# ---- Bundles and cases ---------------------------------------------------------

class BundleEntry:
    def __init__(self, path, label, target=None):
        self.path = path
        self.label = label
        self.target = target  # None: the runtime's own choice
        self.bundle = s2c.Bundle(path)
        self.oracle = reference.Oracle(self.bundle.pattern_text)
        self.name = self.bundle.pattern_name
        self.heads = self.bundle.heads
        self.kv_heads = self.bundle.kv_heads
        self.group = self.heads // max(self.kv_heads, 1)
        ks = self.bundle.kernels
        self.variants = sorted({(k.dtype, k.head_dim) for k in ks
                                if k.kind == "forward"},
                               key=lambda v: (v[0] != "bf16", -v[1]))
        self.targets = sorted({k.target for k in ks})

    def describe(self):
        return {"path": self.path, "label": self.label, "pattern": self.name,
                "heads": self.heads, "kv_heads": self.kv_heads,
                "block": self.bundle.block, "causal": self.bundle.causal,
                "block_m": self.bundle.block_m, "block_n": self.bundle.block_n,
                "max_seq_len": self.bundle.max_seq_len,
                "kernels": [k._asdict() for k in self.bundle.kernels]}


def find_bundles(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith(".s2m"))
        elif os.path.exists(p):
            files.append(p)
        else:
            print(f"warning: no such bundle or folder '{p}'")
    return files


def target_variants(entries, tool, tmpdir, log):
    """For bundles with several targets, one filtered copy per target (so
    the sm_80 PTX also runs on a Hopper GPU)."""
    out = []
    for e in entries:
        if len(e.targets) < 2 or not tool:
            continue
        for t in e.targets:
            dst = os.path.join(tmpdir, f"{os.path.basename(e.path)}.{t}.s2m")
            r = subprocess.run([tool, "filter", "--target", t, e.path, dst],
                               capture_output=True, text=True)
            if r.returncode != 0:
                log(f"warning: cannot filter {e.path} to {t}: {r.stderr}")
                continue
            out.append(BundleEntry(dst, f"{e.label}@{t}", t))
    return out


def shard_offset(e):
    """A tensor-parallel shard: the second half of the heads, rounded to
    the GQA group (None when the pattern has a single group)."""
    off = (e.heads // 2) // e.group * e.group
    return off if 0 < off < e.heads else None


FULL_LENGTHS = [  # (batch, sq, sk)
    (2, 1, 1), (2, 64, 64), (2, 127, 127), (3, 129, 129), (2, 1000, 1000),
    (2, 100, 2100), (1, 1, 513), (1, 2085, 2085), (1, 4096, 4096)]
COMBOS = [("bshd", "normal"), ("bhsd", "peaked"), ("bhsd", "normal"),
          ("bshd", "peaked")]
VARLEN = [(1, 64), (150, 150), (257, 400), (64, 1000)]


def make_cases(tier, entries, extra):
    cases = []

    def add(e, kind, dtype, hd, **kw):
        c = {"bundle": e.label, "kind": kind, "dtype": dtype, "head_dim": hd,
             "layout": "bshd", "input": "normal", "batch": 1, "sq": 0,
             "sk": 0, "heads": e.heads, "head_offset": 0}
        c.update(kw)
        c["seed"] = 1000 + len(cases)
        c["id"] = len(cases)
        cases.append(c)

    for e in entries:
        for vi, (dt, hd) in enumerate(e.variants):
            if tier == "smoke":
                add(e, "dense", dt, hd, batch=2, sq=300, sk=300)
                add(e, "varlen", dt, hd, seqs=VARLEN[:3], layout="thd",
                    batch=3)
                # Other softmax scales, a negative one included (the
                # kernel takes another branch for scale <= 0).
                add(e, "dense", dt, hd, batch=1, sq=130, sk=250, scale=-0.2)
                add(e, "dense", dt, hd, batch=1, sq=250, sk=250, scale=0.45)
                if vi == 0:
                    add(e, "dense", dt, hd, layout="bhsd", input="peaked",
                        batch=2, sq=200, sk=777)
                    off = shard_offset(e)
                    if off is not None:
                        add(e, "dense", dt, hd, batch=1, sq=256, sk=256,
                            heads=e.heads - off, head_offset=off)
                continue
            for i, (b, sq, sk) in enumerate(FULL_LENGTHS):
                layout, inp = COMBOS[i % len(COMBOS)]
                add(e, "dense", dt, hd, layout=layout, input=inp, batch=b,
                    sq=sq, sk=sk)
            for layout, inp in COMBOS[1:]:
                add(e, "dense", dt, hd, layout=layout, input=inp, batch=2,
                    sq=1000, sk=1000)
            for inp in ("normal", "peaked"):
                add(e, "varlen", dt, hd, seqs=VARLEN, layout="thd",
                    batch=len(VARLEN), input=inp)
            for scale in (-0.2, 0.45):
                add(e, "dense", dt, hd, layout="bhsd", batch=2, sq=333,
                    sk=1000, scale=scale)
            off = shard_offset(e)
            if off is not None:
                add(e, "dense", dt, hd, layout="bhsd", batch=2, sq=300,
                    sk=600, heads=e.heads - off, head_offset=off)
    # Exact schedule probes on the runtime's own kernel choice.
    for e in entries:
        if e.target is not None or not e.variants:
            continue
        dt, hd = e.variants[0]
        for s in ((32768,) if tier == "smoke" else (32768, 131072)):
            if e.bundle.max_seq_len and s > e.bundle.max_seq_len:
                continue
            add(e, "probe", dt, hd, sq=s, sk=s)
    for c in extra:
        c["id"] = len(cases)
        cases.append(c)
    return cases


def case_label(c):
    if c["kind"] == "varlen":
        shape = "varlen " + ",".join(f"{a}/{b}" for a, b in c["seqs"])
    else:
        shape = f"B{c['batch']} sq{c['sq']} sk{c['sk']}"
    heads = f"H{c['heads']}" + (f"+{c['head_offset']}" if c["head_offset"]
                                else "")
    if c.get("scale"):
        shape += f" s{c['scale']:g}"
    return (f"{c['bundle']:<28.28} {c['kind']:<6} {c['dtype']:<4} "
            f"d{c['head_dim']:<3} {c['layout']:<4} {shape:<26.26} {heads:<7} "
            f"{c['input']:<6}")


# ---- Running a case on the GPU ----------------------------------------------------

class GpuContext:
    def __init__(self):
        import torch
        from s2c import ops  # noqa: F401  (registers the op)
        self.torch = torch
        self.ops = ops
        self.device = torch.device("cuda", torch.cuda.current_device())
        self.backend = reference.TorchBackend(self.device)
        self.dtypes = {"bf16": torch.bfloat16, "f16": torch.float16}

    def randn(self, shape, gen, layout):
        torch = self.torch
        if layout == "bhsd":  # allocate (B, H, S, D), view as (B, S, H, D)
            b, s, h, d = shape
            return torch.randn((b, h, s, d), generator=gen,
                               device=self.device).transpose(1, 2)
        return torch.randn(shape, generator=gen, device=self.device)

    def peak(self, q, k, gen, kvidx, seq_starts, seq_lens_k):
        """Adds c*u to every query of a KV head and to one random key per
        (sequence, KV head): that key's score (~4*sqrt(D)) dominates every
        row that sees it."""
        torch = self.torch
        d = q.shape[-1]
        c = 2.0 * math.sqrt(d)
        hkv = k.shape[-2]
        u = torch.randn((hkv, d), generator=gen, device=self.device)
        u = u / u.norm(dim=-1, keepdim=True)
        idx = torch.tensor(kvidx, device=self.device)
        q += c * u[idx]
        for start, n in zip(seq_starts, seq_lens_k):
            j = int(torch.randint(0, n, (1,), generator=gen,
                                  device=self.device).item())
            k[..., start + j, :, :] += c * u
        return q, k

    def run(self, e, c):
        torch = self.torch
        t0 = time.time()
        dt = self.dtypes[c["dtype"]]
        d, h, h0 = c["head_dim"], c["heads"], c["head_offset"]
        kvidx = [(h0 + i) // e.group - h0 // e.group for i in range(h)]
        hkv = kvidx[-1] + 1
        gen = torch.Generator(device=self.device)
        gen.manual_seed(c["seed"])
        res = {"id": c["id"]}
        if c["kind"] == "probe":
            return self.run_probe(e, c, dt, kvidx, hkv, gen, t0)
        if c["kind"] == "varlen":
            seqs = c["seqs"]
            cq = [0]
            ck = [0]
            for a, b in seqs:
                cq.append(cq[-1] + a)
                ck.append(ck[-1] + b)
            q = self.randn((cq[-1], h, d), gen, "bshd")
            k = self.randn((ck[-1], hkv, d), gen, "bshd")
            v = self.randn((ck[-1], hkv, d), gen, "bshd")
            if c["input"] == "peaked":
                q4, k4 = q[None], k[None]
                self.peak(q4, k4, gen, kvidx, ck[:-1], [b for _, b in seqs])
            q, k, v = q.to(dt), k.to(dt), v.to(dt)
            cuq = torch.tensor(cq, dtype=torch.int32, device=self.device)
            cuk = torch.tensor(ck, dtype=torch.int32, device=self.device)
            with torch.no_grad():
                out, lse = s2c.attention(
                    e.bundle, q, k, v, head_offset=h0, cu_seqlens_q=cuq,
                    cu_seqlens_k=cuk, max_seqlen_q=max(a for a, _ in seqs),
                    max_seqlen_k=max(b for _, b in seqs), return_lse=True)
            torch.cuda.synchronize()
            views = [(q[cq[i]:cq[i + 1]], k[ck[i]:ck[i + 1]],
                      v[ck[i]:ck[i + 1]], out[cq[i]:cq[i + 1]],
                      lse[:, cq[i]:cq[i + 1]], a, b)
                     for i, (a, b) in enumerate(seqs)]
        else:
            bsz, sq, sk = c["batch"], c["sq"], c["sk"]
            q = self.randn((bsz, sq, h, d), gen, c["layout"])
            k = self.randn((bsz, sk, hkv, d), gen, c["layout"])
            v = self.randn((bsz, sk, hkv, d), gen, c["layout"])
            if c["input"] == "peaked":
                self.peak(q, k, gen, kvidx, [0], [sk])
            q, k, v = q.to(dt), k.to(dt), v.to(dt)
            with torch.no_grad():
                out, lse = s2c.attention(e.bundle, q, k, v, head_offset=h0,
                                         softmax_scale=c.get("scale"),
                                         return_lse=True)
            torch.cuda.synchronize()
            if out.stride() != q.stride():
                raise AssertionError(f"output strides {out.stride()} differ "
                                     f"from q's {q.stride()}")
            views = [(q[i], k[i], v[i], out[i], lse[i], sq, sk)
                     for i in range(bsz)]
        scale = c.get("scale") or 1.0 / math.sqrt(d)
        per = []
        for bi, (qb, kb, vb, ob, lb, sq, sk) in enumerate(views):
            for hi, st in enumerate(self.compare(e, qb, kb, vb, ob, lb, sq,
                                                 sk, h0, kvidx, scale)):
                st.update({"b": bi, "h": hi})
                per.append(st)
        tol = TOL_OUT[c["dtype"]]
        bad = [p for p in per if not (p["rel"] < tol and p["lse"] < TOL_LSE
                                      and p["nan"] == 0 and p["empty_bad"] == 0)]
        res.update({
            "status": "fail" if bad else "pass",
            "max_rel": max(p["rel"] for p in per),
            "max_lse": max(p["lse"] for p in per),
            "nan": sum(p["nan"] for p in per),
            "empty_rows": sum(p["empty"] for p in per),
            "empty_bad": sum(p["empty_bad"] for p in per),
            "failing": bad[:16],
            "kernel": self.kernel_used(e, c),
            "seconds": round(time.time() - t0, 3)})
        return res

    def compare(self, e, q, k, v, o, lse, sq, sk, h0, kvidx, scale):
        """Per-head stats of one sequence: q, o (sq, H, D), k, v (sk, Hkv, D),
        lse (H, sq)."""
        torch = self.torch
        h = len(kvidx)
        idx = torch.tensor(kvidx, device=self.device)
        qd = q.double().permute(1, 0, 2)
        kd = k.double().permute(1, 0, 2).index_select(0, idx)
        vd = v.double().permute(1, 0, 2).index_select(0, idx)
        od = o.double().permute(1, 0, 2)
        ld = lse.double()
        nan = torch.isnan(od).flatten(1).sum(1) + torch.isnan(ld).sum(1)
        diff2 = torch.zeros(h, dtype=torch.float64, device=self.device)
        ref2 = torch.zeros_like(diff2)
        lerr = torch.zeros_like(diff2)
        empty_n = torch.zeros(h, dtype=torch.int64, device=self.device)
        empty_bad = torch.zeros_like(empty_n)
        rows = max(1, min(sq, (1 << 26) // max(1, h * sk)))
        heads = [h0 + i for i in range(h)]
        for r0 in range(0, sq, rows):
            r1 = min(sq, r0 + rows)
            m = e.oracle.token_mask_rows_torch(torch, heads, sq, sk, r0,
                                               r1).to(self.device)
            ro, rl = self.backend.reference_block(qd[:, r0:r1], kd, vd, m,
                                                  scale)
            ko, kl = od[:, r0:r1], ld[:, r0:r1]
            empty = ~m.any(dim=-1)
            diff2 += torch.nan_to_num((ko - ro) ** 2, nan=0.0).sum((1, 2))
            ref2 += (ro ** 2).sum((1, 2))
            err = torch.where(empty, torch.zeros_like(kl), (kl - rl).abs())
            lerr = torch.maximum(lerr, torch.nan_to_num(err, nan=0.0,
                                                        posinf=1e30)
                                 .amax(dim=1))
            empty_n += empty.sum(1)
            nz = (ko != 0).any(dim=-1) & empty
            ninf = (kl != float("-inf")) & empty
            empty_bad += (nz | ninf).sum(1)
        out = []
        for i in range(h):
            d2, r2 = float(diff2[i]), float(ref2[i])
            rel = math.sqrt(d2 / r2) if r2 > 0 else (0.0 if d2 == 0 else
                                                     math.inf)
            out.append({"rel": rel, "lse": float(lerr[i]), "nan": int(nan[i]),
                        "empty": int(empty_n[i]),
                        "empty_bad": int(empty_bad[i])})
        return out

    def run_probe(self, e, c, dt, kvidx, hkv, gen, t0):
        torch = self.torch
        s, d, h = c["sq"], c["head_dim"], c["heads"]
        q = torch.zeros((1, s, h, d), dtype=dt, device=self.device)
        k = torch.randn((1, s, hkv, d), generator=gen,
                        device=self.device).to(dt)
        v = torch.randn((1, s, hkv, d), generator=gen,
                        device=self.device).to(dt)
        with torch.no_grad():
            out, lse = s2c.attention(e.bundle, q, k, v, return_lse=True)
        torch.cuda.synchronize()
        nan = int(torch.isnan(out).sum()) + int(torch.isnan(lse).sum())
        got_all = lse[0].double().cpu()
        worst, bad_rows, failing = 0.0, 0, []
        for i in range(h):
            counts = e.oracle.row_counts_torch(torch, i, s, s)
            got = got_all[i]
            empty = counts == 0
            want = torch.log(counts.double())  # -inf for empty rows
            err = torch.where(empty, torch.zeros_like(got),
                              (got - want).abs())
            err = torch.nan_to_num(err, nan=math.inf)
            empty_bad = int((empty & (got != -math.inf)).sum())
            nbad = int((err > TOL_PROBE).sum()) + empty_bad
            worst = max(worst, float(err.max()))
            if nbad:
                r = int(err.argmax())
                failing.append({"h": i, "bad_rows": nbad, "row": r,
                                "lse": float(got[r]), "keys": int(counts[r]),
                                "want": float(want[r])})
            bad_rows += nbad
        return {"id": c["id"], "status": "fail" if bad_rows or nan else "pass",
                "max_lse": worst, "max_rel": 0.0, "nan": nan,
                "bad_rows": bad_rows, "failing": failing[:16],
                "kernel": self.kernel_used(e, c),
                "seconds": round(time.time() - t0, 3)}

    def self_check(self, entries):
        """The torch mask and row-count paths against each other and
        count_pairs, on small sizes (they are what the checks trust)."""
        torch = self.torch
        fails = []
        for e in entries:
            for sq, sk in ((300, 300), (77, 1000), (1, 129)):
                for hh in range(min(e.heads, 4)):
                    m = e.oracle.token_mask_rows_torch(torch, [hh], sq, sk, 0,
                                                       sq)[0]
                    want = m.sum(1)
                    got = e.oracle.row_counts_torch(torch, hh, sq, sk)
                    if not torch.equal(want, got) or \
                            int(want.sum()) != e.oracle.count_pairs(hh, sq,
                                                                    sk):
                        fails.append(f"{e.label}: h {hh} {sq}x{sk}")
        return fails

    def compile_check(self, e):
        """torch.compile traces through the custom op (fullgraph, so a graph
        break fails) and gives the eager result bit for bit; asking for a
        gradient raises the documented error. Returns failure messages."""
        torch = self.torch
        fails = []
        dt, hd = e.variants[0]
        dtype = self.dtypes[dt]
        g = torch.Generator(device=self.device).manual_seed(11)
        kv = e.kv_heads
        q = torch.randn(2, 200, e.heads, hd, device=self.device, dtype=dtype,
                        generator=g)
        k = torch.randn(2, 200, kv, hd, device=self.device, dtype=dtype,
                        generator=g)
        v = torch.randn(2, 200, kv, hd, device=self.device, dtype=dtype,
                        generator=g)

        def fn(q, k, v):
            out, lse = s2c.attention(e.bundle, q, k, v, return_lse=True)
            return out * 2, lse

        try:
            eager = fn(q, k, v)
            compiled = torch.compile(fn, fullgraph=True)(q, k, v)
            torch.cuda.synchronize()
            if not (torch.equal(eager[0], compiled[0]) and
                    torch.equal(eager[1], compiled[1])):
                fails.append("torch.compile result differs from eager")
        except Exception as err:  # noqa: BLE001
            fails.append(f"torch.compile: {type(err).__name__}: {err}"[:400])
        try:
            qg = q.clone().requires_grad_(True)
            s2c.attention(e.bundle, qg, k, v).sum().backward()
            fails.append("a gradient request did not raise")
        except Exception as err:  # noqa: BLE001
            if "backward" not in str(err).lower() and \
                    "gradient" not in str(err).lower():
                fails.append(f"gradient request raised an unclear error: "
                             f"{err}"[:300])
        return fails

    def kernel_used(self, e, c):
        major, minor = self.torch.cuda.get_device_capability(self.device)
        try:
            idx, cubin = e.bundle.select_kernel(major * 10 + minor,
                                                c["dtype"], c["head_dim"])
            k = e.bundle.kernels[idx]
            return f"{k.name} ({k.target} {'cubin' if cubin else 'PTX'})"
        except s2c.S2RTError as err:
            return f"none: {err}"


def run_in_subprocess(e, c, timeout=300):
    """Runs one case in a fresh process (after this one's CUDA context died)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--single",
           json.dumps(c), "--bundles", e.path]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"id": c["id"], "status": "error",
                "error": f"timeout after {timeout}s in a subprocess"}
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("S2C-RESULT "):
            return json.loads(line[len("S2C-RESULT "):])
    return {"id": c["id"], "status": "error",
            "error": f"subprocess exited {r.returncode} without a result: "
                     + (r.stdout + r.stderr)[-1500:]}


# ---- compute-sanitizer ------------------------------------------------------------

def find_sanitizer():
    for p in (os.environ.get("S2C_SANITIZER"),
              "/usr/local/cuda/bin/compute-sanitizer",
              shutil.which("compute-sanitizer")):
        if p and os.path.exists(p):
            return p
    return None


def sanitizer_picks(entries, arch, limit=4):
    """(entry, dtype, head dim, kernel name) for the first `limit` forward
    kernels of distinct structure (target, head dim, tiles, threads) an
    sm_`arch` device runs for the bundles' variants, so that every kernel
    structure in a run (tile shapes, warp-specialised or not) gets the
    sanitizers, not only the first bundle's."""
    picks, seen = [], set()
    for e in entries:
        for dt, hd in e.variants:
            try:
                idx, _ = e.bundle.select_kernel(arch, dt, hd)
            except s2c.S2RTError:
                continue
            k = e.bundle.kernels[idx]
            shape = (k.target, k.head_dim, k.block_m, k.block_n, k.threads)
            if shape not in seen:  # dtypes share a kernel's structure
                seen.add(shape)
                picks.append((e, dt, hd, k.name))
    return picks[:limit]


def run_sanitizers(entries, arch, log, timeout=240):
    tool = find_sanitizer()
    if not tool:
        log("compute-sanitizer not found: sanitizer checks skipped")
        return [{"tool": "compute-sanitizer", "status": "skipped",
                 "reason": "not found"}]
    results = []
    for e, dt, hd, name in sanitizer_picks(entries, arch):
        results += run_sanitizer_case(tool, e, dt, hd, name, log, timeout)
    return results


def run_sanitizer_case(tool, e, dt, hd, name, log, timeout):
    case = {"bundle": e.label, "kind": "dense", "dtype": dt, "head_dim": hd,
            "layout": "bshd", "input": "normal", "batch": 2, "sq": 200,
            "sk": 200, "heads": e.heads, "head_offset": 0, "seed": 7, "id": 0}
    results = []
    for t in ("memcheck", "racecheck"):
        cmd = [tool, "--tool", t, "--error-exitcode", "99",
               sys.executable, os.path.abspath(__file__), "--single",
               json.dumps(case), "--bundles", e.path]
        t0 = time.time()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout)
            text = r.stdout + r.stderr
            m = re.search(r"ERROR SUMMARY: (\d+) error", text)
            hz = re.search(r"RACECHECK SUMMARY: (\d+) hazard", text)
            errors = int(m.group(1)) if m else None
            hazards = int(hz.group(1)) if hz else None
            # Pass only on the tool's own clean summary: a missing summary
            # (the tool did not run the case) is a failure, not a pass.
            clean = (hazards == 0) if t == "racecheck" else (errors == 0)
            status = "pass" if r.returncode == 0 and clean else "fail"
            results.append({"tool": t, "status": status, "kernel": name,
                            "returncode": r.returncode, "errors": errors,
                            "hazards": hazards,
                            "seconds": round(time.time() - t0, 1),
                            "tail": text[-3000:]})
        except subprocess.TimeoutExpired:
            results.append({"tool": t, "status": "fail", "kernel": name,
                            "reason": f"timeout after {timeout}s"})
        res = results[-1]
        found = (f"{res.get('hazards')} hazards" if t == "racecheck"
                 else f"{res.get('errors')} errors")
        log(f"compute-sanitizer {t}: {res['status']} ({found}; {name}, "
            f"{e.label} {dt} d{hd})")
    return results


# ---- The dry run: CPU self-tests -------------------------------------------------

def self_test(entries, log):
    """The reference and the probe counts against independent computations
    on small sizes (numpy). Returns a list of failure messages."""
    import random
    import numpy as np
    fails = []
    be = reference.NumpyBackend()
    rng = random.Random(5)
    # 1. fp64 reference vs the pure-Python row-by-row one, with a random
    # mask that has empty rows.
    h, r, n, d = 2, 7, 11, 4
    q = [[[rng.gauss(0, 1) for _ in range(d)] for _ in range(r)]
         for _ in range(h)]
    k = [[[rng.gauss(0, 1) for _ in range(d)] for _ in range(n)]
         for _ in range(h)]
    v = [[[rng.gauss(0, 1) for _ in range(d)] for _ in range(n)]
         for _ in range(h)]
    mask = np.array([[[rng.random() < 0.4 and row != 3 for _ in range(n)]
                      for row in range(r)] for _ in range(h)])
    o, lse = be.reference_block(np.array(q), np.array(k), np.array(v), mask,
                                0.5)
    for i in range(h):
        no, nl = reference.naive_reference(
            q[i], k[i], v[i], lambda a, b, i=i: bool(mask[i, a, b]), 0.5)
        if not np.allclose(o[i], np.array(no), atol=1e-12):
            fails.append("reference output differs from the naive one")
        nl = np.array(nl)
        if not (np.array_equal(np.isinf(lse[i]), np.isinf(nl)) and
                np.allclose(lse[i][~np.isinf(nl)], nl[~np.isinf(nl)])):
            fails.append("reference LSE differs from the naive one")
    if not (np.all(o[:, 3] == 0) and np.all(lse[:, 3] == -np.inf)):
        fails.append("empty rows do not give 0 and -inf")
    # 2. torch backend (CPU) against numpy, when torch is present.
    try:
        import torch
        tb = reference.TorchBackend(torch.device("cpu"))
        to, tl = tb.reference_block(torch.tensor(q, dtype=torch.float64),
                                    torch.tensor(k, dtype=torch.float64),
                                    torch.tensor(v, dtype=torch.float64),
                                    torch.from_numpy(mask), 0.5)
        if not (np.allclose(to.numpy(), o, atol=1e-12) and
                np.array_equal(tl.numpy(), lse) or
                np.allclose(tl.numpy()[~np.isinf(lse)], lse[~np.isinf(lse)])):
            fails.append("torch reference differs from numpy")
        log("self-test: torch backend matches numpy")
    except ImportError:
        log("self-test: torch not installed, torch backend not checked")
    # 3. Probe row counts vs the token mask, and count_pairs, per bundle.
    for e in entries:
        for sq, sk in ((300, 300), (77, 1000), (1, 129)):
            for hh in range(min(e.heads, 4)):
                m = e.oracle.token_mask_rows(hh, sq, sk, 0, sq)
                want = m.sum(axis=1)
                got = e.oracle.row_counts(hh, sq, sk)
                if not np.array_equal(want, got):
                    fails.append(f"{e.label}: row counts differ from the "
                                 f"token mask (h {hh}, {sq}x{sk})")
                if int(want.sum()) != e.oracle.count_pairs(hh, sq, sk):
                    fails.append(f"{e.label}: count_pairs differs from the "
                                 f"token mask (h {hh}, {sq}x{sk})")
    log(f"self-test: {'FAIL' if fails else 'ok'}"
        + "".join("\n  " + f for f in fails))
    return fails


# ---- Main ------------------------------------------------------------------------

def device_label():
    try:
        import torch
        if torch.cuda.is_available():
            return torch.cuda.get_device_name()
    except ImportError:
        pass
    return "cpu-" + platform.node()


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tier", choices=["smoke", "full", "dry"],
                    default="smoke")
    ap.add_argument("--bundles", nargs="+", default=[])
    ap.add_argument("--shard", default="0/1", help="run cases I mod N == I")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds before remaining cases are left unrun "
                         "(default 150 smoke, 540 full)")
    ap.add_argument("--out", default=os.environ.get("OUT"),
                    help="folder for the JSON results (default $OUT)")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"),
                    help="where the committed copy goes ('' to skip)")
    ap.add_argument("--sanitize", action="store_true",
                    help="run compute-sanitizer (on by default in full)")
    ap.add_argument("--no-sanitize", action="store_true")
    ap.add_argument("--s2-bundle", default=os.environ.get("S2C_S2_BUNDLE"),
                    help="the s2-bundle tool (to test every target)")
    ap.add_argument("--single", help=argparse.SUPPRESS)
    args = ap.parse_args()
    start = time.time()
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    if args.single:  # one case in its own process
        c = json.loads(args.single)
        try:
            e = BundleEntry(args.bundles[0], c["bundle"])
            res = GpuContext().run(e, c)
        except Exception as err:
            res = {"id": c["id"], "status": "error",
                   "error": f"{type(err).__name__}: {err}",
                   "trace": traceback.format_exc()[-2000:]}
        print("S2C-RESULT " + json.dumps(res, default=str), flush=True)
        return 0 if res["status"] == "pass" else 1

    files = find_bundles(args.bundles)
    entries, load_errors = [], []
    for f in files:
        label = os.path.splitext(os.path.basename(f))[0]
        try:
            entries.append(BundleEntry(f, label))
        except Exception as err:  # a bad bundle is a failure, not a crash
            load_errors.append({"path": f, "error": str(err)})
            log(f"FAIL  cannot load {f}: {err}")
    if not entries:
        log("no bundles to check" + (" (all failed to load)" if files else
                                     "; pass --bundles DIR"))
    tmp = tempfile.mkdtemp(prefix="s2c-gpu-")
    extra_entries = target_variants(entries, args.s2_bundle, tmp, log)
    all_entries = entries + extra_entries
    by_label = {e.label: e for e in all_entries}
    tier = args.tier
    cases = make_cases("smoke" if tier == "dry" else tier, entries, [])
    # Per-target copies: every case in full; one per variant otherwise.
    for c in make_cases("full" if tier == "full" else "smoke",
                        extra_entries, []):
        if c["kind"] == "probe":
            continue
        if tier != "full" and not (c["kind"] == "dense" and c["sq"] == 300):
            continue
        cases.append(c)
    for i, c in enumerate(cases):
        c["id"] = i
    si, sn = (int(x) for x in args.shard.split("/"))
    cases = [c for c in cases if c["id"] % sn == si]

    log(f"s2c GPU checks: tier {tier}, shard {si}/{sn}, {len(entries)} "
        f"bundle(s), {len(cases)} case(s)")
    for e in all_entries:
        log(f"  {e.label}: pattern '{e.name}', {e.heads} heads / "
            f"{e.kv_heads} kv, block {e.bundle.block}, variants "
            + ", ".join(f"{a} d{b}" for a, b in e.variants)
            + f", targets {', '.join(e.targets)}")

    results, status = [], 0
    sanitizer = []
    if tier == "dry":
        for c in cases:
            log("  case " + case_label(c))
        for e in all_entries:
            for arch in (80, 90):
                for dt, hd in e.variants:
                    try:
                        idx, cubin = e.bundle.select_kernel(arch, dt, hd)
                        k = e.bundle.kernels[idx]
                        log(f"  {e.label} sm_{arch} {dt} d{hd}: {k.name} "
                            f"({k.target} {'cubin' if cubin else 'PTX'})")
                    except s2c.S2RTError as err:
                        log(f"  {e.label} sm_{arch} {dt} d{hd}: {err}")
        full = make_cases("full", entries, [])
        log(f"  ({len(full)} cases in the full tier, before per-target "
            "copies)")
        for arch in (80, 90):
            for e, dt, hd, name in sanitizer_picks(entries, arch):
                log(f"  sanitizers on sm_{arch}: {name} ({e.label} {dt} "
                    f"d{hd})")
        fails = self_test(all_entries, log)
        status = 1 if fails or load_errors else 0
    else:
        budget = args.budget or (150.0 if tier == "smoke" else 540.0)
        ctx = GpuContext()
        log(f"device: {device_label()}, torch {ctx.torch.__version__}, "
            f"CUDA {ctx.torch.version.cuda}")
        sc = ctx.self_check(all_entries)
        log("self-check of masks and row counts: "
            + ("ok" if not sc else "FAIL " + "; ".join(sc)))
        if sc:
            load_errors.append({"path": "self-check", "error": "; ".join(sc)})
        if entries:
            cc = ctx.compile_check(entries[0])
            log("torch.compile through the custom op: "
                + ("ok" if not cc else "FAIL " + "; ".join(cc)))
            if cc:
                load_errors.append({"path": "torch.compile",
                                    "error": "; ".join(cc)})
        dead = False
        hdr = f"{'status':<6} {'case':<103} {'rel':>8} {'lse':>8}  time"
        log(hdr)
        for c in cases:
            if time.time() - start > budget:
                results.append({"id": c["id"], "status": "not run"})
                continue
            if dead:
                res = run_in_subprocess(by_label[c["bundle"]], c)
            else:
                try:
                    res = ctx.run(by_label[c["bundle"]], c)
                except Exception as err:
                    res = {"id": c["id"], "status": "error",
                           "error": f"{type(err).__name__}: {err}",
                           "trace": traceback.format_exc()[-2000:]}
                    try:
                        ctx.torch.cuda.synchronize()
                    except Exception as sync_err:
                        # A sticky error (e.g. an illegal address) poisons
                        # this process's context: go on in fresh processes.
                        res["error"] += f" (then: {sync_err})"
                        dead = True
                        log("CUDA context lost; the remaining cases run in "
                            "subprocesses")
            res["case"] = c
            results.append(res)
            if res["status"] == "pass" or res["status"] == "fail":
                log(f"{res['status'].upper():<6} {case_label(c)} "
                    f"{res.get('max_rel', 0):8.1e} {res.get('max_lse', 0):8.1e}"
                    f"  {res['seconds']:.2f}s")
            else:
                log(f"{'ERROR':<6} {case_label(c)} {res['error']}")
            if res["status"] == "fail" and res.get("failing"):
                log(f"       first failing: {json.dumps(res['failing'][0])}")
        if (tier == "full" or args.sanitize) and not args.no_sanitize \
                and entries and si == 0:
            major, minor = ctx.torch.cuda.get_device_capability(ctx.device)
            sanitizer = run_sanitizers(entries, major * 10 + minor, log)
        counts = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        san_fail = any(s["status"] == "fail" for s in sanitizer)
        if counts.get("fail") or counts.get("error") or load_errors or \
                san_fail:
            status = 1
        elif counts.get("not run"):
            status = 2
        log("summary: " + ", ".join(f"{v} {k}" for k, v in
                                    sorted(counts.items()))
            + (", sanitizer FAIL" if san_fail else "")
            + (f", {len(load_errors)} bundle(s) failed to load"
               if load_errors else "")
            + f" in {time.time() - start:.0f}s")
        if counts.get("not run"):
            log("some cases were not run within the budget: rerun with "
                "--shard I/N")

    now = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "tier": tier, "shard": args.shard, "date": now.isoformat(),
        "device": device_label(), "host": platform.node(),
        "bundles": [e.describe() for e in all_entries],
        "load_errors": load_errors, "results": results,
        "sanitizer": sanitizer, "exit_status": status,
        "seconds": round(time.time() - start, 1)}
    name = (f"{slug(device_label())}-{now.strftime('%Y%m%d-%H%M')}-{tier}"
            + (f"-shard{si}of{sn}" if sn > 1 else "") + ".json")
    for folder in (args.out, args.results_dir if tier != "dry" else None):
        if folder:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, name), "w") as f:
                json.dump(report, f, indent=1, default=str)
            log(f"results: {os.path.join(folder, name)}")
    shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
