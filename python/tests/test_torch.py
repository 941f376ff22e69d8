"""The PyTorch layer: a clear message without torch; with torch, the custom
op is registered, traces with fake tensors and refuses gradients. Tests that
launch kernels live in test/gpu (they need a GPU).
"""

import importlib.util
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

HAVE_TORCH = importlib.util.find_spec("torch") is not None


class WithoutTorchTest(unittest.TestCase):
    @unittest.skipIf(HAVE_TORCH, "torch is installed")
    def test_clear_import_error(self):
        with self.assertRaises(ImportError) as e:
            import s2c.ops  # noqa: F401
        self.assertIn("s2c.ops needs PyTorch", str(e.exception))
        import s2c
        with self.assertRaises(ImportError):
            s2c.attention(None, None, None, None)


@unittest.skipUnless(HAVE_TORCH, "torch is not installed")
class WithTorchTest(unittest.TestCase):
    def test_op_registered_with_fake_impl(self):
        import torch
        from torch._subclasses.fake_tensor import FakeTensorMode
        from s2c import ops
        self.assertTrue(hasattr(torch.ops.s2c, "forward"))
        with FakeTensorMode():
            q = torch.empty(2, 100, 8, 128, dtype=torch.bfloat16)
            k = torch.empty(2, 300, 2, 128, dtype=torch.bfloat16)
            out, lse = ops._forward_fake(q, k, k, 0, 0, 0.1, None, None, 100,
                                         300, True)
            self.assertEqual(tuple(out.shape), (2, 100, 8, 128))
            self.assertEqual(tuple(lse.shape), (2, 8, 100))
            self.assertEqual(lse.dtype, torch.float32)

    def test_rejects_cpu_tensors(self):
        import torch
        from s2c import ops
        q = torch.zeros(1, 4, 8, 128, dtype=torch.bfloat16)
        with self.assertRaises(ValueError) as e:
            ops.attention(object(), q, q, q)
        self.assertIn("expected a CUDA device", str(e.exception))


if __name__ == "__main__":
    unittest.main()
