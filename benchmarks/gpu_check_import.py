"""gpu_check.sh's check of the fresh build: the extension holds CUDA kernels and torch sees the GPU."""

import sys

import torch

from mgfast import ops
from mgfast._native import _C

print(f"mgfast extension {_C.__file__}: CUDA kernels compiled in: {bool(_C.cuda_compiled)}; "
      f"torch {torch.__version__} sees a GPU: {torch.cuda.is_available()}")
if not _C.cuda_compiled:
    sys.exit("the built extension has no CUDA kernels (was nvcc found by CMake? see the build output above)")
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check the driver and CUDA_VISIBLE_DEVICES")
if not ops.cuda_available():
    sys.exit("mgfast.ops.cuda_available() is False although the kernels are compiled and torch sees a GPU")
print("CUDA kernels available on", torch.cuda.get_device_name())
