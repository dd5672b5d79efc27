"""The ops are proper torch.library ops: opcheck passes and torch.compile(fullgraph=True) sees no break."""

from __future__ import annotations

import pytest
import torch

from mgfast import ops

torch.manual_seed(0)


def heatmap_samples():
    kp = torch.rand(2, 2, 3, 68, 2) * 20
    sc = torch.rand(2, 2, 3, 68)
    limbs = [j for pair in ((0, 1), (1, 2), (2, 3)) for j in pair]
    flip = list(range(68))
    yield (kp, sc, 20, 24, 0.6, 1e-3, 1.0, [], [], torch.float32)
    yield (kp, None, 20, 24, 1.5, 1e-3, 0.5, limbs, [], torch.float16)
    yield (kp, sc, 20, 24, 0.6, 1e-4, 1.0, [], flip, torch.bfloat16)


def crop_samples():
    frames = torch.randint(0, 256, (3, 30, 40, 3), dtype=torch.uint8)
    boxes = torch.tensor([[1.0, 2.0, 25.0, 20.0], [0.0, 0.0, 40.0, 30.0], [-5.0, 3.0, 10.0, 33.0]])
    yield (frames, boxes, 8, 12, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], torch.float32, False)
    yield (frames, boxes[:1], 7, 7, [120.0, 110.0, 100.0], [60.0, 50.0, 40.0], torch.float16, True)


@pytest.mark.parametrize("args", list(heatmap_samples()))
def test_opcheck_render_heatmaps(args):
    torch.library.opcheck(torch.ops.mgfast.render_heatmaps.default, args)


@pytest.mark.parametrize("args", list(crop_samples()))
def test_opcheck_crop_resize(args):
    torch.library.opcheck(torch.ops.mgfast.crop_resize.default, args)


def test_compiled_pipeline_has_no_graph_break():
    def pipeline(kp, sc, frames, boxes):
        volume = ops.render_heatmaps(kp, sc, size=(32, 32), mode="limbs", flip=True, dtype=torch.float16)
        crops = ops.crop_resize(frames, boxes, 16, mean=[123.7, 116.3, 103.5], std=[58.4, 57.1, 57.4])
        return volume.float().mean(dim=(2, 3, 4)), crops.sum()

    kp, sc = torch.rand(2, 4, 68, 2) * 32, torch.rand(2, 4, 68)
    frames = torch.randint(0, 256, (4, 24, 30, 3), dtype=torch.uint8)
    boxes = torch.tensor([[1.0, 1.0, 20.0, 20.0]]).repeat(4, 1)
    torch._dynamo.reset()
    compiled = torch.compile(pipeline, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(kp, sc, frames, boxes), pipeline(kp, sc, frames, boxes)):
        torch.testing.assert_close(got, want)
    explanation = torch._dynamo.explain(pipeline)(kp, sc, frames, boxes)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
