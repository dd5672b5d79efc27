"""mgfast's native ops as torch ops: PoseC3D heatmap volumes, saliency crop-resize, saliency boxes.

The kernels run on CPU (C++/OpenMP) or CUDA, on the device of their inputs; on a device this build has no
kernel for (CUDA in a build without nvcc, or any other backend) the ops run in pure PyTorch with the same
results, warning once (:class:`MissingKernelWarning`); :func:`pure_pytorch` forces that path. They are registered with
``torch.library`` (``mgfast::render_heatmaps``, ``mgfast::crop_resize``) with fake kernels, so they work in
eager mode, under ``torch.compile(fullgraph=True)`` and inside CUDA graphs. Each public function checks its
arguments first and raises ``TypeError``/``ValueError`` naming the argument; non-contiguous inputs are
made contiguous (a copy), never rejected.

The package mirrors csrc/: one module per op (``heatmap``, ``crop_resize``, and ``saliency``, which is plain
torch), ``_library`` for the torch.library namespace, ``_device`` for where a kernel runs and ``_checks``
for the argument checks the ops share, ``_fallback_heatmap`` and ``_fallback_crop_resize`` for the
pure-PyTorch implementations. As in ``torchvision.ops``, ``mgfast.ops.crop_resize`` is the function,
which shadows its module of the same name (``from mgfast.ops.crop_resize import ...`` still reaches the module).
"""

from mgfast.ops._device import MissingKernelWarning, cuda_available, native_kernels, pure_pytorch
from mgfast.ops.crop_resize import crop_resize, crop_resize_clip
from mgfast.ops.heatmap import render_heatmaps
from mgfast.ops.saliency import saliency_boxes

__all__ = [
    "render_heatmaps", "crop_resize", "crop_resize_clip", "saliency_boxes", "cuda_available", "native_kernels",
    "pure_pytorch", "MissingKernelWarning",
]
