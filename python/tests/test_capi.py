"""The ctypes layer without a GPU or PyTorch: load bundles made by the
s2-bundle tool, read their metadata, and reach every error through the
runtime's status (bad bundle, bad arguments, no driver).

Run: S2C_LIBS2RT=build/runtime/libs2rt.so python3 -m pytest python/tests
(or python3 -m unittest discover -s python/tests). Without a built
libs2rt.so the tests are skipped, with the reason.
"""

import ctypes
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import s2c  # noqa: E402
from s2c import _capi  # noqa: E402

PATTERN = """s2pattern 1
name gqa_local
settings 8 2 64 1 0 any
rule local 0 -1 2 0 0 0
heads 8 0 1 2 3 4 5 6 7
end
"""


def _lib_path():
    return _capi.find_library()


def _tool_path():
    env = os.environ.get("S2C_S2_BUNDLE")
    if env:
        return env
    lib = _lib_path()
    if lib and os.path.dirname(lib):
        cand = os.path.join(os.path.dirname(lib), "s2-bundle")
        if os.path.exists(cand):
            return cand
    return None


HAVE_LIB = _lib_path() is not None and os.path.exists(_lib_path() or "")
HAVE_TOOL = _tool_path() is not None


@unittest.skipUnless(HAVE_LIB, "libs2rt.so not built (set S2C_LIBS2RT)")
@unittest.skipUnless(HAVE_TOOL, "s2-bundle not built (set S2C_S2_BUNDLE)")
class CapiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        with open(os.path.join(d, "p.txt"), "w") as f:
            f.write(PATTERN)
        with open(os.path.join(d, "k.ptx"), "w") as f:
            f.write(".version 8.0\n.target sm_80\n.address_size 64\n")
        cls.path = os.path.join(d, "b.s2m")
        subprocess.run(
            [_tool_path(), "create", "-o", cls.path, "--pattern-text",
             os.path.join(d, "p.txt"), "--setting", "compiler=test",
             "--kernel",
             "name=fwd_bf16,target=sm_80,dtype=bf16,head_dim=128,block_m=128,"
             "block_n=64,threads=256,smem=65536,ptx=" + os.path.join(d, "k.ptx"),
             "--kernel",
             "name=fwd_f16,target=sm_90a,dtype=f16,head_dim=64,block_m=128,"
             "block_n=64,threads=128,smem=32768,ptx=" + os.path.join(d, "k.ptx")],
            check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_metadata(self):
        with s2c.Bundle(self.path) as b:
            self.assertEqual(b.pattern_name, "gqa_local")
            self.assertEqual((b.heads, b.kv_heads, b.block), (8, 2, 64))
            self.assertTrue(b.causal)
            self.assertEqual((b.block_m, b.block_n), (128, 64))
            self.assertEqual(b.max_seq_len, 0)
            self.assertEqual(b.setting("compiler"), "test")
            self.assertIsNone(b.setting("missing"))
            self.assertIn("settings 8 2 64 1", b.pattern_text)
            ks = b.kernels
            self.assertEqual(len(ks), 2)
            self.assertEqual(ks[0].name, "fwd_bf16")
            self.assertEqual(ks[0].target, "sm_80")
            self.assertEqual(ks[0].dtype, "bf16")
            self.assertEqual(ks[0].head_dim, 128)
            self.assertEqual(ks[0].shared_bytes, 65536)
            self.assertTrue(ks[0].has_ptx)
            self.assertFalse(ks[0].has_cubin)
            self.assertEqual(ks[1].dtype, "f16")
            self.assertTrue(b.supports("bf16", 128))
            self.assertFalse(b.supports("f16", 128))
            self.assertEqual(b.select_kernel(90, "bf16", 128), (0, False))
            self.assertEqual(b.select_kernel(90, "f16", 64), (1, False))
            with self.assertRaises(s2c.S2RTError) as e:
                b.select_kernel(100, "f16", 64)
            self.assertEqual(e.exception.status, _capi.ERROR_UNSUPPORTED)

    def test_copy_kernel_kind(self):
        # A copy kernel (docs/bundle.md, "Copy kernel ABI"): kind 2, head
        # dim 0; forward queries ignore it.
        d = self.tmp.name
        path = os.path.join(d, "copy.s2m")
        subprocess.run(
            [_tool_path(), "create", "-o", path, "--pattern-text",
             os.path.join(d, "p.txt"),
             "--kernel",
             "name=s2_copy,target=sm_80,dtype=bf16,head_dim=0,block_m=1,"
             "block_n=0,threads=128,smem=0,kind=copy,ptx=" +
             os.path.join(d, "k.ptx"),
             "--kernel",
             "name=fwd_bf16,target=sm_80,dtype=bf16,head_dim=128,block_m=128,"
             "block_n=64,threads=256,smem=65536,ptx=" + os.path.join(d, "k.ptx")],
            check=True)
        with s2c.Bundle(path) as b:
            ks = b.kernels
            self.assertEqual([k.kind for k in ks], ["copy", "forward"])
            self.assertEqual(ks[0].name, "s2_copy")
            self.assertEqual(ks[0].head_dim, 0)
            self.assertEqual(b.select_kernel(90, "bf16", 128), (1, False))

    def test_load_memory_and_errors(self):
        with open(self.path, "rb") as f:
            data = f.read()
        with s2c.Bundle(data=data) as b:
            self.assertEqual(b.heads, 8)
        with self.assertRaises(s2c.S2RTError) as e:
            s2c.Bundle(data=data[:-3])
        self.assertEqual(e.exception.status_name, "S2RT_ERROR_INVALID_BUNDLE")
        bad = bytearray(data)
        bad[8] = 9
        with self.assertRaises(s2c.S2RTError) as e:
            s2c.Bundle(data=bytes(bad))
        self.assertEqual(e.exception.status, _capi.ERROR_VERSION_MISMATCH)
        with self.assertRaises(s2c.S2RTError) as e:
            s2c.Bundle("/nonexistent.s2m")
        self.assertEqual(e.exception.status, _capi.ERROR_IO)
        self.assertIn("/nonexistent.s2m", str(e.exception))

    def test_forward_checks(self):
        b = s2c.Bundle(self.path)
        a = _capi.new_forward_args()
        self.assertEqual(a.struct_size, ctypes.sizeof(_capi.ForwardArgs))
        a.q, a.k, a.v, a.out = 0x10000, 0x20000, 0x30000, 0x40000
        a.batch, a.seqlen_q, a.seqlen_k = 2, 100, 300
        a.heads, a.head_dim, a.dtype = 8, 128, _capi.DTYPE_BF16
        for s in (a.q_stride, a.o_stride):
            s[0], s[1], s[2] = 100 * 8 * 128, 8 * 128, 128
        for s in (a.k_stride, a.v_stride):
            s[0], s[1], s[2] = 300 * 2 * 128, 2 * 128, 128
        b.check_args(a)
        b.check_args(a, arch=90)
        a.k_stride[1] = 100
        with self.assertRaises(s2c.S2RTError) as e:
            b.check_args(a)
        self.assertIn("not a multiple of 16 bytes", e.exception.message)
        a.k_stride[1] = 256
        a.head_offset = 1
        a.heads = 4
        with self.assertRaises(s2c.S2RTError) as e:
            b.check_args(a)
        self.assertIn("GQA group size 4", e.exception.message)

    def test_no_driver(self):
        old = os.environ.get("S2RT_LIBCUDA")
        os.environ["S2RT_LIBCUDA"] = "/nonexistent/libcuda.so.1"
        try:
            with self.assertRaises(s2c.S2RTError) as e:
                s2c.device_count()
            self.assertEqual(e.exception.status, _capi.ERROR_NO_DRIVER)
            b = s2c.Bundle(self.path)
            with self.assertRaises(s2c.S2RTError) as e:
                b.prepare(0)
            self.assertEqual(e.exception.status_name, "S2RT_ERROR_NO_DRIVER")
        finally:
            if old is None:
                del os.environ["S2RT_LIBCUDA"]
            else:
                os.environ["S2RT_LIBCUDA"] = old


class ImportTest(unittest.TestCase):
    def test_package_imports_without_torch(self):
        # The ctypes layer never imports torch.
        self.assertTrue(hasattr(s2c, "Bundle"))
        self.assertTrue(callable(s2c.attention))

    def test_missing_library_message(self):
        old = os.environ.get("S2C_LIBS2RT")
        os.environ["S2C_LIBS2RT"] = "/nonexistent/libs2rt.so"
        saved = _capi._lib
        _capi._lib = None
        try:
            with self.assertRaises(OSError):
                _capi.load_library()
        finally:
            _capi._lib = saved
            if old is None:
                del os.environ["S2C_LIBS2RT"]
            else:
                os.environ["S2C_LIBS2RT"] = old


if __name__ == "__main__":
    unittest.main()
