"""mgfast's native ops as torch ops: PoseC3D heatmap volumes, saliency crop-resize, saliency boxes.

The kernels run on CPU (C++/OpenMP) or CUDA, on the device of their inputs, and are registered with
``torch.library`` (``mgfast::render_heatmaps``, ``mgfast::crop_resize``) with fake kernels, so they work in
eager mode, under ``torch.compile(fullgraph=True)`` and inside CUDA graphs. Each public function checks its
arguments first and raises ``TypeError``/``ValueError`` naming the argument; non-contiguous inputs are
made contiguous (a copy), never rejected.

The package mirrors csrc/: one module per op (``heatmap``, ``crop_resize``, and ``saliency``, which is plain
torch), ``_library`` for the torch.library namespace, ``_device`` for where a kernel runs and ``_checks``
for the argument checks the ops share. As in ``torchvision.ops``, ``mgfast.ops.crop_resize`` is the function,
which shadows its module of the same name (``from mgfast.ops.crop_resize import ...`` still reaches the module).
"""

from mgfast.ops._device import cuda_available
from mgfast.ops.crop_resize import crop_resize, crop_resize_clip
from mgfast.ops.heatmap import render_heatmaps
from mgfast.ops.saliency import saliency_boxes

__all__ = ["render_heatmaps", "crop_resize", "crop_resize_clip", "saliency_boxes", "cuda_available"]
