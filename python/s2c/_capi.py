"""ctypes view of the s2rt C API (runtime/include/s2rt.h).

No compilation at install time: libs2rt.so is found at run time, in this
order: the environment variable S2C_LIBS2RT (a path), a copy next to this
package (s2c/lib/libs2rt.so), the repository's build folders
(build*/runtime/libs2rt.so), then the system's library search path.
"""

import ctypes
import ctypes.util
import glob
import itertools
import weakref
import os
from collections import namedtuple

# s2rt_status values.
SUCCESS = 0
ERROR_INVALID_ARGUMENT = 1
ERROR_INVALID_BUNDLE = 2
ERROR_VERSION_MISMATCH = 3
ERROR_IO = 4
ERROR_NO_DRIVER = 5
ERROR_UNSUPPORTED = 6
ERROR_CUDA = 7
ERROR_OUT_OF_MEMORY = 8

# s2rt_kernel_kind values (KernelInfoC.kind).
KERNEL_FORWARD = 0
KERNEL_MERGE = 1
KERNEL_COPY = 2
KERNEL_KIND_NAMES = {KERNEL_FORWARD: "forward", KERNEL_MERGE: "merge",
                     KERNEL_COPY: "copy"}

# s2rt_dtype values.
DTYPE_BF16 = 1
DTYPE_F16 = 2
DTYPE_NAMES = {DTYPE_BF16: "bf16", DTYPE_F16: "f16"}
DTYPE_CODES = {"bf16": DTYPE_BF16, "bfloat16": DTYPE_BF16, "f16": DTYPE_F16,
               "fp16": DTYPE_F16, "float16": DTYPE_F16}


class S2RTError(RuntimeError):
    """A failing s2rt call: `status` is the s2rt_status code, `status_name`
    its name and the message the runtime's."""

    def __init__(self, status, status_name, message):
        super().__init__(f"{status_name}: {message}")
        self.status = status
        self.status_name = status_name
        self.message = message


class KernelInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("target", ctypes.c_char_p),
                ("dtype", ctypes.c_int), ("head_dim", ctypes.c_int),
                ("block_m", ctypes.c_int), ("block_n", ctypes.c_int),
                ("threads", ctypes.c_int), ("shared_bytes", ctypes.c_int),
                ("abi_version", ctypes.c_int), ("has_ptx", ctypes.c_int),
                ("has_cubin", ctypes.c_int), ("kind", ctypes.c_int)]


class ForwardArgs(ctypes.Structure):
    """s2rt_forward_args, field for field."""
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("q", ctypes.c_void_p), ("k", ctypes.c_void_p),
                ("v", ctypes.c_void_p), ("out", ctypes.c_void_p),
                ("lse", ctypes.c_void_p),
                ("batch", ctypes.c_int64), ("seqlen_q", ctypes.c_int64),
                ("seqlen_k", ctypes.c_int64), ("heads", ctypes.c_int64),
                ("head_offset", ctypes.c_int64), ("head_dim", ctypes.c_int64),
                ("dtype", ctypes.c_int),
                ("q_stride", ctypes.c_int64 * 3),
                ("k_stride", ctypes.c_int64 * 3),
                ("v_stride", ctypes.c_int64 * 3),
                ("o_stride", ctypes.c_int64 * 3),
                ("lse_stride", ctypes.c_int64 * 2),
                ("softmax_scale", ctypes.c_float),
                ("cu_seqlens_q", ctypes.c_void_p),
                ("cu_seqlens_k", ctypes.c_void_p),
                ("device", ctypes.c_int),
                # -1, 0, -1: bottom-right aligned queries over all keys.
                ("query_pos", ctypes.c_int64),
                ("key_begin", ctypes.c_int64),
                ("key_end", ctypes.c_int64)]


KernelInfo = namedtuple(
    "KernelInfo", "name target dtype head_dim block_m block_n threads "
    "shared_bytes abi_version has_ptx has_cubin kind")

_lib = None


def _candidates():
    env = os.environ.get("S2C_LIBS2RT")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "lib", "libs2rt.so")
    repo = os.path.dirname(os.path.dirname(here))
    for path in sorted(glob.glob(os.path.join(repo, "build*", "runtime",
                                              "libs2rt.so"))):
        yield path
    found = ctypes.util.find_library("s2rt")
    if found:
        yield found


def find_library():
    """Path of the libs2rt.so that load_library would use, or None."""
    for path in _candidates():
        if os.path.exists(path) or not os.path.dirname(path):
            return path
    return None


def load_library():
    """Loads libs2rt.so once and declares the C signatures."""
    global _lib
    if _lib is not None:
        return _lib
    path = find_library()
    if path is None:
        raise OSError(
            "s2c: cannot find libs2rt.so; build the runtime (cmake -S runtime "
            "-B build-rt && cmake --build build-rt) and set S2C_LIBS2RT to "
            "build-rt/libs2rt.so")
    lib = ctypes.CDLL(path)
    P, I, I64, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_char_p
    sigs = {
        "s2rt_status_name": (S, [I]),
        "s2rt_last_error": (S, []),
        "s2rt_init": (I, []),
        "s2rt_device_count": (I, [ctypes.POINTER(I)]),
        "s2rt_bundle_load_file": (I, [S, ctypes.POINTER(P)]),
        "s2rt_bundle_load_memory": (I, [P, ctypes.c_size_t,
                                        ctypes.POINTER(P)]),
        "s2rt_bundle_destroy": (None, [P]),
        "s2rt_bundle_pattern_name": (S, [P]),
        "s2rt_bundle_pattern_text": (S, [P]),
        "s2rt_bundle_heads": (I64, [P]),
        "s2rt_bundle_kv_heads": (I64, [P]),
        "s2rt_bundle_block": (I64, [P]),
        "s2rt_bundle_causal": (I, [P]),
        "s2rt_bundle_block_m": (I64, [P]),
        "s2rt_bundle_block_n": (I64, [P]),
        "s2rt_bundle_max_seq_len": (I64, [P]),
        "s2rt_bundle_setting": (S, [P, S]),
        "s2rt_bundle_num_kernels": (I, [P]),
        "s2rt_bundle_kernel_info": (I, [P, I, ctypes.POINTER(KernelInfoC)]),
        "s2rt_bundle_supports": (I, [P, I, I]),
        "s2rt_bundle_select_kernel": (I, [P, I, I, I, ctypes.POINTER(I),
                                          ctypes.POINTER(I)]),
        "s2rt_bundle_prepare": (I, [P, I]),
        "s2rt_forward_args_init": (None, [ctypes.POINTER(ForwardArgs)]),
        "s2rt_forward": (I, [P, ctypes.POINTER(ForwardArgs), P]),
        "s2rt_forward_check": (I, [P, ctypes.POINTER(ForwardArgs), I]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    probe = ForwardArgs()
    lib.s2rt_forward_args_init(ctypes.byref(probe))
    if probe.struct_size != ctypes.sizeof(ForwardArgs):
        raise OSError(
            f"s2c: {path} has s2rt_forward_args of {probe.struct_size} bytes, "
            f"this binding expects {ctypes.sizeof(ForwardArgs)}: rebuild one "
            "or the other")
    _lib = lib
    return lib


def check(status):
    """Raises S2RTError for a failing status."""
    if status != SUCCESS:
        lib = load_library()
        raise S2RTError(status, lib.s2rt_status_name(status).decode(),
                        lib.s2rt_last_error().decode(errors="replace"))


def new_forward_args():
    args = ForwardArgs()
    load_library().s2rt_forward_args_init(ctypes.byref(args))
    return args


def device_count():
    """Number of CUDA devices; raises S2RTError without a driver."""
    n = ctypes.c_int(0)
    check(load_library().s2rt_device_count(ctypes.byref(n)))
    return n.value


# Bundles by id, for the PyTorch custom op (which takes plain ints).
_BY_ID = weakref.WeakValueDictionary()
_NEXT_ID = itertools.count(1)


def bundle_by_id(bundle_id):
    """The live Bundle with this op_id."""
    return _BY_ID[bundle_id]


class Bundle:
    """A loaded .s2m bundle (owns the s2rt_bundle handle).

    Metadata is read once at load time and kept as plain Python values, so
    torch.compile can trace code that reads it (ctypes calls it cannot).
    """

    def __init__(self, path=None, data=None):
        lib = load_library()
        self._lib = lib
        self._h = ctypes.c_void_p()
        if (path is None) == (data is None):
            raise ValueError("give exactly one of path= or data=")
        if path is not None:
            check(lib.s2rt_bundle_load_file(os.fsencode(path),
                                            ctypes.byref(self._h)))
        else:
            buf = bytes(data)
            check(lib.s2rt_bundle_load_memory(buf, len(buf),
                                              ctypes.byref(self._h)))
        h = self._h
        self._meta = {
            "pattern_name": lib.s2rt_bundle_pattern_name(h).decode(),
            "pattern_text": lib.s2rt_bundle_pattern_text(h).decode(),
            "heads": lib.s2rt_bundle_heads(h),
            "kv_heads": lib.s2rt_bundle_kv_heads(h),
            "block": lib.s2rt_bundle_block(h),
            "causal": bool(lib.s2rt_bundle_causal(h)),
            "block_m": lib.s2rt_bundle_block_m(h),
            "block_n": lib.s2rt_bundle_block_n(h),
            "max_seq_len": lib.s2rt_bundle_max_seq_len(h),
        }
        self._kernels = self._read_kernels()
        self._variants = frozenset((k.dtype, k.head_dim)
                                   for k in self._kernels
                                   if k.kind == "forward")
        self.prepared_devices = set()
        self.op_id = next(_NEXT_ID)
        _BY_ID[self.op_id] = self

    def close(self):
        if getattr(self, "_h", None) and self._h.value:
            self._lib.s2rt_bundle_destroy(self._h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self):
        return self._h

    @property
    def pattern_name(self):
        return self._meta["pattern_name"]

    @property
    def pattern_text(self):
        return self._meta["pattern_text"]

    @property
    def heads(self):
        return self._meta["heads"]

    @property
    def kv_heads(self):
        return self._meta["kv_heads"]

    @property
    def block(self):
        return self._meta["block"]

    @property
    def causal(self):
        return self._meta["causal"]

    @property
    def block_m(self):
        return self._meta["block_m"]

    @property
    def block_n(self):
        return self._meta["block_n"]

    @property
    def max_seq_len(self):
        return self._meta["max_seq_len"]

    def setting(self, key):
        v = self._lib.s2rt_bundle_setting(self._h, key.encode())
        return None if v is None else v.decode()

    @property
    def kernels(self):
        return list(self._kernels)

    def _read_kernels(self):
        out = []
        for i in range(self._lib.s2rt_bundle_num_kernels(self._h)):
            k = KernelInfoC()
            check(self._lib.s2rt_bundle_kernel_info(self._h, i,
                                                    ctypes.byref(k)))
            out.append(KernelInfo(
                k.name.decode(), k.target.decode(),
                DTYPE_NAMES.get(k.dtype, str(k.dtype)), k.head_dim, k.block_m,
                k.block_n, k.threads, k.shared_bytes, k.abi_version,
                bool(k.has_ptx), bool(k.has_cubin),
                KERNEL_KIND_NAMES.get(k.kind, str(k.kind))))
        return out

    def supports(self, dtype, head_dim):
        """Whether some forward kernel of the bundle takes this dtype and head
        dim (on some target; select_kernel says which one runs on a
        device)."""
        return (dtype, int(head_dim)) in self._variants

    def select_kernel(self, arch, dtype, head_dim):
        """(kernel index, uses cubin) for compute capability `arch` (e.g. 90);
        raises S2RTError when none runs there."""
        idx, cubin = ctypes.c_int(-1), ctypes.c_int(0)
        check(self._lib.s2rt_bundle_select_kernel(
            self._h, int(arch), DTYPE_CODES[dtype], int(head_dim),
            ctypes.byref(idx), ctypes.byref(cubin)))
        return idx.value, bool(cubin.value)

    def prepare(self, device):
        check(self._lib.s2rt_bundle_prepare(self._h, int(device)))

    def check_args(self, args, arch=0):
        """Runs s2rt_forward_check on a ForwardArgs."""
        check(self._lib.s2rt_forward_check(self._h, ctypes.byref(args),
                                           int(arch)))

    def forward_raw(self, args, stream=0):
        """s2rt_forward on a ForwardArgs with raw device pointers."""
        check(self._lib.s2rt_forward(self._h, ctypes.byref(args),
                                     ctypes.c_void_p(stream or None)))
