"""PyTorch binding: s2c bundles as a torch.library custom op.

``attention(bundle, q, k, v, ...)`` checks its tensors, then calls the
custom op ``torch.ops.s2c.forward``, which launches the bundle's forward
kernel on the current CUDA stream through libs2rt. The op has a fake (meta)
implementation, so torch.compile traces through it without running it.
Backward kernels come later: asking for a gradient raises a clear error.
"""

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised without torch
    raise ImportError(
        "s2c.ops needs PyTorch (pip install torch); the ctypes layer "
        "(s2c.Bundle) works without it") from e

import math
import os
from typing import Optional, Tuple

from . import _capi

_DTYPES = {torch.bfloat16: _capi.DTYPE_BF16, torch.float16: _capi.DTYPE_F16}

# S2C_POISON=1 fills every output with NaN before the launch, so rows a
# kernel fails to write show up (the GPU checks set it).
_POISON = os.environ.get("S2C_POISON") == "1"

# Custom ops take only tensors and primitives: a bundle is passed by its
# op_id (s2c._capi.bundle_by_id finds it again).
def _bundle_id(bundle):
    return bundle.op_id


def _kv_heads_for(bundle, heads, head_offset):
    group = bundle.heads // max(bundle.kv_heads, 1)
    return (head_offset + heads - 1) // group - head_offset // group + 1


def _lse_shape(q, packed):
    if packed:
        return (q.shape[1], q.shape[0])
    return (q.shape[0], q.shape[2], q.shape[1])


# torch.library.custom_op arrived in PyTorch 2.4; older versions get a plain
# function (eager only, torch.compile graph-breaks on it).
_HAS_CUSTOM_OP = hasattr(torch.library, "custom_op")


def _custom_op(fn):
    if _HAS_CUSTOM_OP:
        return torch.library.custom_op("s2c::forward", mutates_args=())(fn)
    return fn


@_custom_op
def forward_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               bundle_id: int, head_offset: int, softmax_scale: float,
               cu_seqlens_q: Optional[torch.Tensor],
               cu_seqlens_k: Optional[torch.Tensor], max_seqlen_q: int,
               max_seqlen_k: int,
               return_lse: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    bundle = _capi.bundle_by_id(bundle_id)
    packed = cu_seqlens_q is not None
    out = torch.empty_like(q)
    if return_lse:
        lse = torch.empty(_lse_shape(q, packed), dtype=torch.float32,
                          device=q.device)
    else:
        lse = torch.empty((0,), dtype=torch.float32, device=q.device)
    if _POISON:
        out.fill_(float("nan"))
        lse.fill_(float("nan"))
    device = q.device.index if q.device.index is not None else \
        torch.cuda.current_device()
    if device not in bundle.prepared_devices:
        bundle.prepare(device)
        bundle.prepared_devices.add(device)

    a = _capi.new_forward_args()
    a.q, a.k, a.v, a.out = (q.data_ptr(), k.data_ptr(), v.data_ptr(),
                            out.data_ptr())
    a.head_dim = q.shape[-1]
    a.dtype = _DTYPES[q.dtype]
    a.head_offset = head_offset
    a.softmax_scale = softmax_scale
    a.device = device
    if packed:
        a.batch = cu_seqlens_q.shape[0] - 1
        a.seqlen_q, a.seqlen_k = max_seqlen_q, max_seqlen_k
        a.heads = q.shape[1]
        for dst, t in ((a.q_stride, q), (a.k_stride, k), (a.v_stride, v),
                       (a.o_stride, out)):
            dst[0], dst[1], dst[2] = 0, t.stride(0), t.stride(1)
        a.cu_seqlens_q = cu_seqlens_q.data_ptr()
        a.cu_seqlens_k = cu_seqlens_k.data_ptr()
        if return_lse:
            a.lse_stride[0], a.lse_stride[1] = 0, lse.stride(0)
    else:
        a.batch, a.seqlen_q, a.heads = q.shape[0], q.shape[1], q.shape[2]
        a.seqlen_k = k.shape[1]
        for dst, t in ((a.q_stride, q), (a.k_stride, k), (a.v_stride, v),
                       (a.o_stride, out)):
            dst[0], dst[1], dst[2] = t.stride(0), t.stride(1), t.stride(2)
        if return_lse:
            a.lse_stride[0], a.lse_stride[1] = lse.stride(0), lse.stride(1)
    if return_lse:
        a.lse = lse.data_ptr()
    stream = torch.cuda.current_stream(q.device).cuda_stream
    bundle.forward_raw(a, stream)
    return out, lse


def _forward_fake(q, k, v, bundle_id, head_offset, softmax_scale,
                  cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
                  return_lse):
    out = torch.empty_like(q)
    if return_lse:
        lse = q.new_empty(_lse_shape(q, cu_seqlens_q is not None),
                          dtype=torch.float32)
    else:
        lse = q.new_empty((0,), dtype=torch.float32)
    return out, lse


def _no_backward(ctx, grad_out, grad_lse):
    raise RuntimeError(
        "s2c: the backward pass is not available yet (bundles hold forward "
        "kernels only); run s2c attention under torch.no_grad() or detach "
        "its inputs")


def _setup_context(ctx, inputs, output):
    pass


if _HAS_CUSTOM_OP:
    forward_op.register_fake(_forward_fake)
    torch.library.register_autograd("s2c::forward", _no_backward,
                                    setup_context=_setup_context)


def _fail(msg):
    raise ValueError("s2c.attention: " + msg)


def attention(bundle, q, k, v, *, head_offset=0, softmax_scale=None,
              cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None,
              max_seqlen_k=None, return_lse=False):
    """Sparse attention of a compiled bundle on the current CUDA stream.

    q: (B, Sq, H, D) by shape, any strides with the head dim contiguous; a
    (B, H, S, D) tensor is passed as ``t.transpose(1, 2)``. k, v: (B, Sk, Hkv,
    D) where Hkv is the number of KV heads serving query heads
    [head_offset, head_offset + H) of the pattern. Sq <= Sk (queries align to
    the end of the keys). Packed: q (total_q, H, D), k/v (total_k, Hkv, D),
    int32 cu_seqlens_q/k of B + 1 offsets, and the max lengths.

    Returns out (same shape and layout as q), or (out, lse) with
    return_lse=True; lse is float32 (B, H, Sq), packed (H, total_q).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            _fail(f"'{name}' must be a torch.Tensor")
        if t.device.type != "cuda":
            _fail(f"'{name}' is on {t.device}, expected a CUDA device")
        if t.dtype not in _DTYPES:
            _fail(f"'{name}' has dtype {t.dtype}, expected torch.bfloat16 "
                  "or torch.float16")
        if t.dim() > 0 and t.stride(-1) != 1:
            _fail(f"the head dim of '{name}' must be contiguous (stride 1), "
                  f"got stride {t.stride(-1)}")
    if not (q.device == k.device == v.device):
        _fail("q, k and v must be on the same device")
    if not (q.dtype == k.dtype == v.dtype):
        _fail(f"q, k and v must have one dtype, got {q.dtype}, {k.dtype}, "
              f"{v.dtype}")
    packed = cu_seqlens_q is not None or cu_seqlens_k is not None
    want = 3 if packed else 4
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != want:
            _fail(f"'{name}' has {t.dim()} dims, expected {want} "
                  + ("(total, heads, head_dim)" if packed else
                     "(batch, seq, heads, head_dim)"))
    if k.shape != v.shape:
        _fail(f"k {tuple(k.shape)} and v {tuple(v.shape)} differ in shape")
    if q.shape[-1] != k.shape[-1]:
        _fail(f"head dims differ: q {q.shape[-1]}, k {k.shape[-1]}")
    heads = q.shape[-2]
    if head_offset < 0 or head_offset + heads > bundle.heads:
        _fail(f"heads [{head_offset}, {head_offset + heads}) outside the "
              f"pattern's {bundle.heads}")
    kv = _kv_heads_for(bundle, heads, head_offset)
    if k.shape[-2] != kv:
        _fail(f"k and v have {k.shape[-2]} heads, expected {kv} KV heads for "
              f"query heads [{head_offset}, {head_offset + heads}) "
              f"({bundle.heads} heads, {bundle.kv_heads} KV heads)")
    dtype_name = "bf16" if q.dtype == torch.bfloat16 else "f16"
    if not bundle.supports(dtype_name, q.shape[-1]):
        _fail(f"the bundle has no {dtype_name} kernel for head dim "
              f"{q.shape[-1]}; it has "
              + ", ".join(f"{k_.dtype} d{k_.head_dim} {k_.target}"
                          for k_ in bundle.kernels if k_.kind == "forward"))
    if packed:
        if cu_seqlens_q is None or cu_seqlens_k is None:
            _fail("packed batches need both cu_seqlens_q and cu_seqlens_k")
        for name, t in (("cu_seqlens_q", cu_seqlens_q),
                        ("cu_seqlens_k", cu_seqlens_k)):
            if t.dtype != torch.int32 or t.dim() != 1 or \
                    t.device != q.device or not t.is_contiguous():
                _fail(f"'{name}' must be a contiguous 1-D int32 tensor on "
                      f"{q.device}")
        if cu_seqlens_q.shape != cu_seqlens_k.shape or \
                cu_seqlens_q.shape[0] < 2:
            _fail("cu_seqlens_q and cu_seqlens_k must both hold batch + 1 "
                  "offsets")
        if max_seqlen_q is None or max_seqlen_k is None:
            _fail("packed batches need max_seqlen_q and max_seqlen_k")
    else:
        if q.shape[0] != k.shape[0]:
            _fail(f"batch sizes differ: q {q.shape[0]}, k {k.shape[0]}")
        if q.shape[1] > k.shape[1]:
            _fail(f"query length {q.shape[1]} exceeds key length "
                  f"{k.shape[1]}")
        max_seqlen_q, max_seqlen_k = q.shape[1], k.shape[1]
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise RuntimeError(
            "s2c.attention: gradients are not available yet (bundles hold "
            "forward kernels only); call it under torch.no_grad() or detach "
            "q, k and v")
    scale = float(softmax_scale) if softmax_scale else \
        1.0 / math.sqrt(q.shape[-1])
    op = torch.ops.s2c.forward if _HAS_CUSTOM_OP else forward_op
    out, lse = op(
        q, k, v, _bundle_id(bundle), int(head_offset), scale, cu_seqlens_q,
        cu_seqlens_k, int(max_seqlen_q), int(max_seqlen_k), bool(return_lse))
    return (out, lse) if return_lse else out
