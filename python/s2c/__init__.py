"""s2c: run compiled sparse-attention bundles from Python.

The ctypes layer needs no PyTorch::

    import s2c
    b = s2c.Bundle("shard.s2m")
    print(b.pattern_name, b.heads, b.kernels)

The PyTorch binding (``s2c.ops``, also reachable as ``s2c.attention``) needs
torch and a GPU::

    out, lse = s2c.attention(b, q, k, v, return_lse=True)

q is (batch, seq, heads, head_dim) by shape with any strides (so a
(B, H, S, D) tensor is passed as ``x.transpose(1, 2)``); packed batches are
(total, heads, head_dim) with ``cu_seqlens_q/k``.
"""

from ._capi import (Bundle, KernelInfo, S2RTError, device_count,
                    find_library, load_library)

__all__ = ["Bundle", "KernelInfo", "S2RTError", "attention", "device_count",
           "find_library", "load_library"]


def attention(*args, **kwargs):
    """s2c.ops.attention (imports PyTorch on first use)."""
    from . import ops
    return ops.attention(*args, **kwargs)
