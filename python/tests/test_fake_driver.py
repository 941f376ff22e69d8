"""The ctypes forward path against the runtime's fake driver
(libs2rt_fakecuda.so, built beside libs2rt.so): the values set on
s2c's ForwardArgs must reach the kernel parameters unchanged, which checks
that the ctypes structure matches the C one field for field. Runs in a
subprocess because a loaded driver stays loaded.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from s2c import _capi  # noqa: E402
import test_capi  # noqa: E402

SCRIPT = r'''
import ctypes, os, struct, sys
sys.path.insert(0, sys.argv[1])
import s2c
from s2c import _capi
fake = ctypes.CDLL(os.environ["S2RT_LIBCUDA"])

class FakeLaunch(ctypes.Structure):
    _fields_ = [("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3),
                ("shared", ctypes.c_uint), ("stream", ctypes.c_void_p),
                ("function", ctypes.c_void_p),
                ("params", (ctypes.c_ubyte * 8) * 29),
                ("num_params", ctypes.c_int)]

fake.fake_cuda_last_launch.restype = FakeLaunch
b = s2c.Bundle(sys.argv[2])
a = _capi.new_forward_args()
a.q, a.k, a.v, a.out, a.lse = 0x10000, 0x20000, 0x30000, 0x40000, 0x50000
a.batch, a.seqlen_q, a.seqlen_k = 2, 100, 300
a.heads, a.head_offset, a.head_dim, a.dtype = 4, 4, 128, _capi.DTYPE_BF16
vals = iter(range(8, 8 * 100, 8))
for s in (a.q_stride, a.k_stride, a.v_stride, a.o_stride):
    for i in range(3):
        s[i] = next(vals)
a.lse_stride[0], a.lse_stride[1] = 808, 800
a.softmax_scale = 0.5
b.forward_raw(a, 0x1230)
l = fake.fake_cuda_last_launch()
p = [bytes(l.params[i]) for i in range(29)]
u64 = lambda i: struct.unpack("<Q", p[i])[0]
assert [u64(i) for i in range(5)] == [0x10000, 0x20000, 0x30000, 0x40000,
                                      0x50000], [u64(i) for i in range(5)]
assert (u64(5), u64(6)) == (100, 300)
assert [u64(i) for i in range(7, 19)] == list(range(8, 8 * 13, 8))
assert (u64(19), u64(20)) == (808, 800)
assert abs(struct.unpack("<f", p[21][:4])[0] - 0.5 * 1.4426950408889634) < 1e-6
assert struct.unpack("<i", p[22][:4])[0] == 4
assert list(l.grid) == [2, 4, 2], list(l.grid)  # ceil(300/128) - 200//128
assert l.stream == 0x1230
assert l.num_params == 29
assert [u64(i) for i in (26, 27, 28)] == [200, 0, 300]  # the defaults
# A query position and key window reach parameters 26-28 and the grid.
a.query_pos, a.key_begin, a.key_end = 64, 128, 256
b.forward_raw(a, 0x1230)
l = fake.fake_cuda_last_launch()
p = [bytes(l.params[i]) for i in range(29)]
assert [u64(i) for i in (26, 27, 28)] == [64, 128, 256], p[26:]
assert list(l.grid) == [2, 4, 2], list(l.grid)  # ceil(164/128) - 64//128
print("ok")
'''


def _fake_path():
    lib = _capi.find_library()
    if not lib or not os.path.dirname(lib):
        return None
    cand = os.path.join(os.path.dirname(lib), "libs2rt_fakecuda.so")
    return cand if os.path.exists(cand) else None


@unittest.skipUnless(test_capi.HAVE_LIB and test_capi.HAVE_TOOL,
                     "libs2rt.so or s2-bundle not built")
@unittest.skipUnless(_fake_path(), "libs2rt_fakecuda.so not built")
class FakeDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        test_capi.CapiTest.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        test_capi.CapiTest.tearDownClass.__func__(cls)

    def test_forward_args_reach_the_kernel(self):
        env = dict(os.environ, S2RT_LIBCUDA=_fake_path())
        pkg = os.path.join(os.path.dirname(__file__), "..")
        r = subprocess.run([sys.executable, "-c", SCRIPT, pkg, self.path],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok", r.stdout)


if __name__ == "__main__":
    unittest.main()
