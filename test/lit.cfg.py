# lit configuration for s2c's IR, driver and diagnostic tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "s2c"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".s2", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit",
                   "gpu", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.s2c_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "--enable-var-scope"
config.substitutions.append(("%examples", os.path.join(config.s2c_src_root,
                                                      "examples", "patterns")))
config.substitutions.append(("%PATH%", config.environment["PATH"]))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.s2c_tools_dir, os.path.join(config.s2c_obj_root, "runtime"),
             config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["s2c", "s2-opt", "s2-kgen", "s2-bundle", "s2-sp-plan",
                                    "FileCheck", "not", "count"], tool_dirs)

# ptxas: present on CI machines. With CI=true a missing ptxas fails the PTX
# tests (they are then not marked UNSUPPORTED) instead of skipping them.
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
elif os.environ.get("CI") == "true":
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", "ptxas-not-found-but-required-on-ci"))
