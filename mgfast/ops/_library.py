"""The ``mgfast`` torch.library namespace: how each native op becomes a torch op.

An op is defined once by its schema, with one kernel for tensors on any device (the native code dispatches
on CPU and CUDA itself; other devices, and CUDA in a build without CUDA kernels, run the op's pure-PyTorch
implementation) and a fake kernel that only computes the output's shape and dtype, so the
ops run in eager mode, under ``torch.compile(fullgraph=True)`` and inside CUDA graphs, and pass
``torch.library.opcheck``. Each op's module (``heatmap``, ``crop_resize``) defines its own op here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# define/impl rather than custom_op: custom_op wraps each kernel in a dynamo guard whose first call imports
# torch._dynamo (seconds), paid again by every data-loader worker.
_LIBRARY = torch.library.Library("mgfast", "DEF")


def define(schema: str, kernel: Callable[..., torch.Tensor], fake: Callable[..., torch.Tensor]) -> None:
    """Defines ``mgfast::<name>`` from its schema, running ``kernel`` on tensors of every device."""
    _LIBRARY.define(schema)
    name = schema.split("(", 1)[0]
    # Every backend: the kernel runs native code where this build has it, else its pure-PyTorch twin.
    _LIBRARY.impl(name, kernel, "CompositeExplicitAutograd")
    torch.library.register_fake(f"mgfast::{name}", fake, lib=_LIBRARY)
