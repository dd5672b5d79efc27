"""The compiled extension, loaded after torch.

torch ships its own OpenMP runtime (``libgomp.so.1``); importing torch first makes the extension bind to
that same copy, so ``torch.set_num_threads`` and the kernels share one thread pool.
"""

import torch  # noqa: F401  (must precede the extension, see above)

from mgfast import _C

__all__ = ["_C"]
