"""The GPU checks' ground truth: the pattern oracle (libs2oracle.so through
ctypes) and an fp64 masked dense attention built from its token mask.

The reference runs on numpy (CPU, used by the dry run and the self-test) or
on torch (fp64 on the GPU, used by the checks) through one small backend
interface, so both compute exactly the same formula:

    S = scale * Q K^T, masked to -inf where the oracle hides the key;
    m = rowmax(S) (0 for rows with no visible key); P = exp(S - m);
    l = rowsum(P); O = P V / l (0 for empty rows); LSE = m + ln(l) (-inf).

Nothing here needs a GPU.
"""

import ctypes
import glob
import math
import os


class OracleError(RuntimeError):
    pass


def find_oracle_library():
    env = os.environ.get("S2C_ORACLE")
    if env:
        return env
    lib = os.environ.get("S2C_LIBS2RT")
    if lib:
        cand = os.path.join(os.path.dirname(lib), "libs2oracle.so")
        if os.path.exists(cand):
            return cand
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for cand in sorted(glob.glob(os.path.join(repo, "build*", "runtime",
                                              "libs2oracle.so"))):
        return cand
    return None


_lib = None


def _oracle_lib():
    global _lib
    if _lib is None:
        path = find_oracle_library()
        if not path or not os.path.exists(path):
            raise OracleError("cannot find libs2oracle.so (set S2C_ORACLE)")
        lib = ctypes.CDLL(path)
        P, I64 = ctypes.c_void_p, ctypes.c_int64
        lib.s2_oracle_create.restype = ctypes.c_int
        lib.s2_oracle_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                         ctypes.POINTER(P), ctypes.c_char_p,
                                         ctypes.c_size_t]
        lib.s2_oracle_destroy.argtypes = [P]
        lib.s2_oracle_destroy.restype = None
        for name in ("heads", "kv_heads", "block"):
            fn = getattr(lib, "s2_oracle_" + name)
            fn.restype, fn.argtypes = I64, [P]
        lib.s2_oracle_causal.restype, lib.s2_oracle_causal.argtypes = \
            ctypes.c_int, [P]
        lib.s2_oracle_block_mask.restype = None
        lib.s2_oracle_block_mask.argtypes = [P, I64, I64, I64, P]
        lib.s2_oracle_token_mask_rows.restype = None
        lib.s2_oracle_token_mask_rows.argtypes = [P, I64, I64, I64, I64, I64,
                                                  P]
        lib.s2_oracle_count_pairs.restype = I64
        lib.s2_oracle_count_pairs.argtypes = [P, I64, I64, I64]
        _lib = lib
    return _lib


class Oracle:
    """The pattern semantics of a bundle, from its serialised text."""

    def __init__(self, text):
        lib = _oracle_lib()
        self._lib = lib
        self._h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(1024)
        data = text.encode()
        if lib.s2_oracle_create(data, len(data), ctypes.byref(self._h), err,
                                len(err)) != 0:
            raise OracleError("bad pattern text: " + err.value.decode())
        self.heads = lib.s2_oracle_heads(self._h)
        self.kv_heads = lib.s2_oracle_kv_heads(self._h)
        self.block = lib.s2_oracle_block(self._h)
        self.causal = bool(lib.s2_oracle_causal(self._h))

    def __del__(self):
        if getattr(self, "_h", None) and self._h.value:
            self._lib.s2_oracle_destroy(self._h)

    def fill_token_mask_rows(self, h, sq, sk, r0, r1, ptr):
        """Writes rows [r0, r1) of head h's mask (uint8, (r1 - r0) x sk) to
        the host address `ptr`."""
        self._lib.s2_oracle_token_mask_rows(self._h, h, sq, sk, r0, r1, ptr)

    def fill_block_mask(self, h, nq, nk, ptr):
        self._lib.s2_oracle_block_mask(self._h, h, nq, nk, ptr)

    def token_mask_rows(self, h, sq, sk, r0, r1):
        """numpy bool array (r1 - r0, sk): rows [r0, r1) of head h's mask."""
        import numpy as np
        out = np.empty((r1 - r0, sk), dtype=np.uint8)
        self.fill_token_mask_rows(h, sq, sk, r0, r1, out.ctypes.data)
        return out.view(np.bool_)

    def token_mask_rows_torch(self, torch, heads, sq, sk, r0, r1):
        """torch bool tensor (len(heads), r1 - r0, sk) on the CPU."""
        out = torch.empty((len(heads), r1 - r0, sk), dtype=torch.uint8)
        for i, h in enumerate(heads):
            self.fill_token_mask_rows(h, sq, sk, r0, r1, out[i].data_ptr())
        return out.bool()

    def block_mask(self, h, nq, nk):
        import numpy as np
        out = np.empty((nq, nk), dtype=np.uint8)
        self.fill_block_mask(h, nq, nk, out.ctypes.data)
        return out.view(np.bool_)

    def count_pairs(self, h, sq, sk):
        return self._lib.s2_oracle_count_pairs(self._h, h, sq, sk)

    def row_counts(self, h, sq, sk):
        """numpy int64 array (sq,): visible keys of every query row of head h
        (bottom-right aligned), from the block mask: a visible key block
        counts whole, except the diagonal block of a causal pattern (keys up
        to the row's position) and the last, partial block."""
        import numpy as np
        b = self.block
        off = sk - sq
        nq = (sk + b - 1) // b
        nk = nq
        bm = self.block_mask(h, nq, nk).astype(np.int64)
        sizes = np.minimum(b, sk - np.arange(nk) * b)
        pos = np.arange(sq, dtype=np.int64) + off
        qb = pos // b
        if not self.causal:
            return (bm @ sizes)[qb]
        strict = np.tril(bm, k=-1) @ sizes
        diag = np.diagonal(bm)[qb] * (pos - qb * b + 1)
        return strict[qb] + diag

    def row_counts_torch(self, torch, h, sq, sk):
        """row_counts with torch on the CPU (float64 sums, exact far beyond
        any sequence length), for machines without numpy."""
        b = self.block
        off = sk - sq
        n = (sk + b - 1) // b
        bm = torch.empty((n, n), dtype=torch.uint8)
        self.fill_block_mask(h, n, n, bm.data_ptr())
        bm = bm.double()
        sizes = torch.clamp(sk - torch.arange(n, dtype=torch.float64) * b,
                            max=b)
        pos = torch.arange(sq, dtype=torch.int64) + off
        qb = pos // b
        if not self.causal:
            return (bm @ sizes).round().long()[qb]
        strict = (torch.tril(bm, diagonal=-1) @ sizes).round().long()
        diag = torch.diagonal(bm).long()[qb] * (pos - qb * b + 1)
        return strict[qb] + diag


class NumpyBackend:
    name = "numpy"

    def __init__(self):
        import numpy as np
        self.np = np

    def asarray(self, mask):
        return mask

    def matmul(self, a, b):
        return a @ b

    def reference_block(self, q, k, v, mask, scale):
        """q (H, r, D), k/v (H, n, D) fp64, mask (H, r, n) bool ->
        out (H, r, D), lse (H, r)."""
        np = self.np
        s = (q @ k.swapaxes(-1, -2)) * scale
        s = np.where(mask, s, -np.inf)
        empty = ~mask.any(axis=-1)
        m = np.where(empty, 0.0, s.max(axis=-1, initial=-np.inf))
        p = np.exp(s - m[..., None])
        l = p.sum(axis=-1)
        o = (p @ v) / np.where(l == 0, 1.0, l)[..., None]
        o[empty] = 0.0
        with np.errstate(divide="ignore"):
            lse = m + np.log(l)
        return o, lse


class TorchBackend:
    name = "torch"

    def __init__(self, device):
        import torch
        self.torch = torch
        self.device = device

    def asarray(self, mask):
        return self.torch.from_numpy(mask).to(self.device, non_blocking=True)

    def reference_block(self, q, k, v, mask, scale):
        torch = self.torch
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        s = s.masked_fill(~mask, float("-inf"))
        empty = ~mask.any(dim=-1)
        m = torch.where(empty, torch.zeros((), dtype=s.dtype, device=s.device),
                        s.amax(dim=-1))
        p = torch.exp(s - m[..., None])
        l = p.sum(dim=-1)
        o = torch.matmul(p, v) / torch.where(l == 0, torch.ones_like(l),
                                             l)[..., None]
        o = o.masked_fill(empty[..., None], 0.0)
        lse = m + torch.log(l)
        return o, lse


def naive_reference(q, k, v, allowed, scale):
    """Row-by-row pure-Python reference for the self-test. q: list of rows,
    k, v: lists of rows, allowed(r, j) -> bool. Returns (out rows, lse)."""
    out, lses = [], []
    for r, qr in enumerate(q):
        scores = [(j, scale * sum(a * b for a, b in zip(qr, k[j])))
                  for j in range(len(k)) if allowed(r, j)]
        if not scores:
            out.append([0.0] * len(v[0]))
            lses.append(-math.inf)
            continue
        m = max(s for _, s in scores)
        w = [(j, math.exp(s - m)) for j, s in scores]
        l = sum(x for _, x in w)
        out.append([sum(x * v[j][d] for j, x in w) / l
                    for d in range(len(v[0]))])
        lses.append(m + math.log(l))
    return out, lses
