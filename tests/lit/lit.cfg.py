# lit configuration for kiln's IR tests: kiln-opt / kiln runs checked with
# FileCheck. One behaviour per file; run one with
#   python3 /usr/lib/llvm-19/build/utils/lit/lit.py -v build/tests/lit/Dialect/x.mlir
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "kiln"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "tests", "lit")

config.substitutions.append(("%kiln_src", config.kiln_src_root))
config.substitutions.append(("%generated_pass_doc", config.kiln_generated_pass_doc))
config.substitutions.append(("%generated_doc", config.kiln_generated_doc))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.kiln_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["kiln", "kiln-opt", "FileCheck", "not", "count"],
    [config.kiln_tools_dir, config.llvm_tools_dir])

# `kiln inspect --graph FILE.svg` draws with Graphviz's dot (scripts/setup
# installs it).
if shutil.which("dot"):
    config.available_features.add("graphviz")

# CUDA's ptxas (its per-kernel reports, and tests that assemble PTX) from
# PATH or /usr/local/cuda/bin.
if os.path.isdir("/usr/local/cuda/bin"):
    llvm_config.with_environment("PATH", "/usr/local/cuda/bin", append_path=True)
if shutil.which("ptxas", path=config.environment.get("PATH", os.environ.get("PATH", ""))):
    config.available_features.add("ptxas")

# `kiln compile --target=cuda` needs CUDA's libdevice (CudaKernels.cpp).
if any(os.path.exists(d + "/libdevice.10.bc")
       for d in ("/usr/local/cuda/nvvm/libdevice", "/usr/lib/nvidia-cuda-toolkit/libdevice")):
    config.available_features.add("cuda-toolkit")
