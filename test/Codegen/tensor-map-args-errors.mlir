// s2-tensor-map-args on misuse: an error at the function, never a crash.
//
// RUN: s2-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(gpu.module(s2-tensor-map-args))' -o /dev/null


module attributes {gpu.container_module} {
gpu.module @m {
  // expected-error @below {{'s2.tensor_map_args' lists 1, which is not an !llvm.ptr argument}}
  llvm.func @not_a_pointer(%q: !llvm.ptr, %tma: i32)
      attributes {nvvm.kernel, s2.tensor_map_args = array<i64: 1>} {
    llvm.return
  }
}
}

// -----

module attributes {gpu.container_module} {
gpu.module @m {
  // expected-error @below {{'s2.tensor_map_args' lists 2, which is not an !llvm.ptr argument}}
  llvm.func @out_of_range(%q: !llvm.ptr, %k: !llvm.ptr)
      attributes {nvvm.kernel, s2.tensor_map_args = array<i64: 2>} {
    llvm.return
  }
}
}

// -----

module attributes {gpu.container_module} {
gpu.module @m {
  // expected-error @below {{'s2.tensor_map_args' on a function that is not a kernel}}
  llvm.func @device_fn(%k: !llvm.ptr)
      attributes {s2.tensor_map_args = array<i64: 0>} {
    llvm.return
  }
}
}

// -----

module attributes {gpu.container_module} {
gpu.module @m {
  // expected-error @below {{'s2.tensor_map_args' on a gpu.func: s2-tensor-map-args runs after convert-gpu-to-nvvm}}
  gpu.func @early(%k: !llvm.ptr) kernel
      attributes {s2.tensor_map_args = array<i64: 0>} {
    gpu.return
  }
}
}
