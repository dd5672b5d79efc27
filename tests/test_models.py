"""The three branches' networks: shapes, input streams, architecture against PYSKL / torchvision, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import video as tvv

from mgfast.layout import MG68, Layout
from mgfast.branches import build_model
from mgfast.models.heatmap import Bottleneck3d
from mgfast.models.joint import bone_parents, skeleton_streams

# A five-joint layout whose limbs are written child-first in part, plus a joint with no limb.
SMALL = Layout(
    "small6",
    ("head", "neck", "lhand", "rhand", "rfinger", "spare"),
    limbs=((1, 0), (1, 2), (1, 3), (3, 4)),
    flip_pairs=((2, 3),),
)

TINY = {
    "joint": {"dims": 16, "num_blocks": 2, "heads": 2},
    "heatmap": {"base_channels": 4, "stage_blocks": (1, 1), "inflate": (0, 1), "spatial_strides": (2, 2), "temporal_strides": (1, 2)},
    "rgb": {"arch": "r2plus1d_lite", "widths": (8, 16), "blocks": (1, 1)},
}


def _input(modality: str, layout: Layout, batch: int = 2, generator: torch.Generator | None = None, **cfg) -> torch.Tensor:
    g = generator or torch.Generator().manual_seed(0)
    if modality == "joint":
        x = torch.rand(batch, 6, layout.num_joints, 3, generator=g)
        x[..., 2] = (x[..., 2] > 0.2).float() * x[..., 2]  # some undetected points
        return x
    if modality == "heatmap":
        return torch.rand(batch, cfg.get("in_channels", layout.num_joints), 4, 16, 16, generator=g)
    return torch.randn(batch, 3, 4, 16, 16, generator=g)


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------
# Shapes and gradients


@pytest.mark.parametrize("layout", [MG68, SMALL], ids=lambda layout: layout.name)
@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_tiny_models_give_logits_and_features(modality, layout):
    model = build_model(modality, layout=layout, num_classes=7, **TINY[modality])
    logits, features = model(_input(modality, layout, batch=3))
    assert logits.shape == (3, 7) and features.shape == (3, model.feature_dim)
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()


@pytest.mark.parametrize(
    ("modality", "cfg", "shape", "dim"),
    [
        ("joint", {}, (2, 8, 68, 3), 256),
        ("joint", {"streams": ("joint", "bone", "motion")}, (2, 5, 68, 3), 256),
        ("heatmap", {}, (1, 68, 4, 16, 16), 512),
        ("heatmap", {"in_channels": 67}, (1, 67, 4, 16, 16), 512),
        ("rgb", {"arch": "r2plus1d_18"}, (1, 3, 4, 32, 32), 512),
        ("rgb", {"arch": "swin3d_t"}, (1, 3, 4, 32, 32), 768),
        ("rgb", {"arch": "r2plus1d_lite"}, (1, 3, 4, 32, 32), 128),
    ],
)
def test_default_models_on_mg68(modality, cfg, shape, dim):
    model = build_model(modality, layout=MG68, num_classes=32, **cfg).eval()
    with torch.no_grad():
        logits, features = model(torch.rand(shape))
    assert model.feature_dim == dim and logits.shape == (shape[0], 32) and features.shape == (shape[0], dim)


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_gradients_reach_every_parameter(modality):
    model = build_model(modality, layout=SMALL, num_classes=4, **TINY[modality])
    x = _input(modality, SMALL).requires_grad_()
    logits, _ = model(x)
    nn.functional.cross_entropy(logits, torch.tensor([0, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    first = next(p for p in model.parameters())  # the input-facing convolution
    assert first.grad.abs().sum() > 0 and model.get_parameter(_head_weight(model)).grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def _head_weight(model: nn.Module) -> str:
    return [name for name, _ in model.named_parameters() if name.endswith("weight")][-1]


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_tiny_model_overfits_a_few_samples(modality):
    torch.manual_seed(0)
    model = build_model(modality, layout=SMALL, num_classes=4, **TINY[modality])
    x = _input(modality, SMALL, batch=8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = nn.functional.cross_entropy(model(x)[0], y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[5] < losses[0]  # a few steps already help
    with torch.no_grad():
        for _ in range(30):  # settle the running batch-norm statistics on the final weights
            model(x)
        model.eval()  # then judge as at test time
        logits = model(x)[0]
    assert (logits.argmax(dim=1) == y).all()
    assert nn.functional.cross_entropy(logits, y).item() < 0.05 * losses[0]


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_tiny_models_run_under_autocast(modality):
    model = build_model(modality, layout=SMALL, num_classes=4, **TINY[modality])
    x = _input(modality, SMALL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, features = model(x)
        logits.float().sum().backward()
    reference = model(x)[0]
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()
    torch.testing.assert_close(logits.float(), reference, atol=0.1, rtol=0.1)


# ----------------------------------------------------------------------------------------------------
# Joint model: streams


def test_mg68_bone_parents_follow_the_limbs():
    parents = bone_parents(MG68)
    for a, b in MG68.limbs:
        assert parents[b] == a
    assert [j for j, p in enumerate(parents) if p < 0] == [MG68.index("Neck")]


def test_bone_parents_of_a_small_layout():
    # Root: neck (first endpoint of the first limb); the lone joint has no parent.
    assert bone_parents(SMALL) == (1, -1, 1, 1, 3, -1)


def _reference_streams(x: np.ndarray, parents: tuple[int, ...], streams: tuple[str, ...]) -> np.ndarray:
    """Loops over every point, from the documented rules."""
    b, t, v, _ = x.shape
    out = np.zeros((b, 3 * len(streams), t, v))

    def valid(p):
        return p[2] > 0 and np.isfinite(p).all()

    for n in range(b):
        for f in range(t):
            for j in range(v):
                for s, stream in enumerate(streams):
                    p = x[n, f, j]
                    if stream == "joint":
                        if valid(p):
                            out[n, 3 * s : 3 * s + 3, f, j] = p
                        continue
                    if stream == "bone":
                        q = x[n, f, parents[j]] if parents[j] >= 0 else None
                        pair = (p, q)  # joint minus parent
                    else:
                        q = x[n, f + 1, j] if f + 1 < t else None
                        pair = (q, p)  # next minus this
                    if q is not None and valid(p) and valid(q):
                        out[n, 3 * s : 3 * s + 2, f, j] = pair[0][:2] - pair[1][:2]
                        out[n, 3 * s + 2, f, j] = min(p[2], q[2])
    return out


def test_skeleton_streams_match_a_reference():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2, 5, SMALL.num_joints, 3)).astype(np.float32)
    x[..., 2] = rng.uniform(0, 1, size=x.shape[:3])
    x[rng.uniform(size=x.shape[:3]) < 0.2, 2] = 0  # undetected
    x[0, 1, 2, 0] = np.nan  # a non-finite coordinate
    x[1, 3, 4, :2] = np.inf
    x[1, 2, 0, 2] = np.nan  # a non-finite score
    streams = ("motion", "joint", "bone")
    parents = bone_parents(SMALL)
    got = skeleton_streams(torch.from_numpy(x), parents, streams).numpy()
    np.testing.assert_allclose(got, _reference_streams(x, parents, streams), rtol=1e-6, atol=1e-7)


def test_joint_model_ignores_undetected_points_and_takes_any_length():
    model = build_model("joint", layout=MG68, num_classes=5, streams=("joint", "bone", "motion"), **{k: v for k, v in TINY["joint"].items()}).eval()
    x = torch.rand(2, 9, 68, 3)
    x[:, :, 30:40, 2] = 0
    y = x.clone()
    y[:, :, 30:40, :2] = torch.nan  # coordinates of undetected points must not matter
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], model(y)[0])
        for frames in (1, 4, 17):
            assert model(torch.rand(1, frames, 68, 3))[0].shape == (1, 5)


def test_joint_default_config_is_dsta_nets():
    model = build_model("joint", layout=MG68, num_classes=10)
    widths = [block.spatial.out[0].out_channels for block in model.blocks]
    strides = [block.temporal.ff[0].stride[0] for block in model.blocks]
    assert widths == [64, 64, 128, 128, 256, 256, 256, 256] and strides == [1, 1, 2, 1, 2, 1, 1, 1]
    assert all(block.spatial.bias.shape == (1, 3, 68, 68) for block in model.blocks)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 16, 68, 3))[1].shape == (1, 256)


# ----------------------------------------------------------------------------------------------------
# Heatmap model: PoseC3D's SlowOnly


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def test_slowonly_default_structure_and_feature_map():
    model = build_model("heatmap", layout=MG68, num_classes=32)
    stages = [model.layer1, model.layer2, model.layer3]
    assert [len(s) for s in stages] == [4, 6, 3] and all(isinstance(b, Bottleneck3d) for s in stages for b in s)
    assert [s[-1].conv3.conv.out_channels for s in stages] == [128, 256, 512] and model.feature_dim == 512
    assert model.conv1.conv.kernel_size == (1, 7, 7) and model.conv1.conv.stride == (1, 1, 1)
    assert model.conv1.conv.in_channels == 68 and model.conv1.conv.out_channels == 32
    assert [s[0].conv1.conv.kernel_size for s in stages] == [(1, 1, 1), (3, 1, 1), (3, 1, 1)]
    assert [s[0].conv2.conv.stride for s in stages] == [(1, 2, 2), (1, 2, 2), (2, 2, 2)]
    assert model.head.dropout.p == 0.5

    # PoseC3D's input, 48 x 56 x 56: stem and pool keep the size, each stage's 1x3x3 conv (pad 1) strides.
    t, h = 48, 56
    for t_stride, s_stride in ((1, 2), (1, 2), (2, 2)):
        t, h = _conv_out(t, 1, t_stride, 0), _conv_out(h, 3, s_stride, 1)
    with torch.device("meta"):
        meta = build_model("heatmap", layout=MG68, num_classes=32)
        fmap = meta.feature_map(torch.empty(2, 68, 48, 56, 56))
    assert (t, h) == (24, 7) and tuple(fmap.shape) == (2, 512, t, h, h)


def _slowonly_parameter_count(in_channels: int, num_classes: int) -> int:
    """Counted from the architecture table: convolutions without bias, two parameters per BN channel."""

    def conv_bn(cin, cout, k):
        return cin * cout * k + 2 * cout

    total = conv_bn(in_channels, 32, 49)
    cin = 32
    for i, (blocks, inflate) in enumerate(zip((4, 6, 3), (0, 1, 1))):
        planes = 32 * 2**i
        for b in range(blocks):
            total += conv_bn(cin, planes, 3 if inflate else 1) + conv_bn(planes, planes, 9) + conv_bn(planes, 4 * planes, 1)
            if b == 0:
                total += conv_bn(cin, 4 * planes, 1)
            cin = 4 * planes
    return total + 512 * num_classes + num_classes


def test_slowonly_parameter_count():
    for in_channels, classes in ((68, 32), (17, 60), (67, 32)):
        model = build_model("heatmap", layout=MG68, num_classes=classes, in_channels=in_channels)
        assert _params(model) == _slowonly_parameter_count(in_channels, classes)
    # PoseC3D reports 2.0M parameters for its 17-keypoint SlowOnly-R50.
    assert round(_slowonly_parameter_count(17, 60) / 1e6, 1) == 2.0


def test_slowonly_blocks_start_as_identity():
    model = build_model("heatmap", layout=MG68, num_classes=3)
    assert all((b.conv3.bn.weight == 0).all() for s in (model.layer1, model.layer2, model.layer3) for b in s)


# ----------------------------------------------------------------------------------------------------
# RGB models against torchvision


def _shapes(model: nn.Module, head: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith(head + ".")}


@pytest.fixture
def meta():
    """Builds on the meta device: shapes only, no weight initialisation (fast)."""
    with torch.device("meta"):
        yield


def test_r2plus1d_18_is_torchvisions(meta):
    ours = build_model("rgb", layout=MG68, num_classes=32, arch="r2plus1d_18")
    reference = tvv.r2plus1d_18(weights=None)
    assert _shapes(ours, "fc") == _shapes(reference, "fc")
    assert ours.fc.weight.shape == (32, 512)


def test_r2plus1d_lite_at_r18_settings_rebuilds_r2plus1d_18(meta):
    lite = build_model("rgb", layout=MG68, num_classes=9, arch="r2plus1d_lite", widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2))
    assert _shapes(lite, "fc") == _shapes(tvv.r2plus1d_18(weights=None), "fc")


def test_swin3d_t_is_torchvisions(meta):
    ours = build_model("rgb", layout=MG68, num_classes=32, arch="swin3d_t")
    assert _shapes(ours, "head") == _shapes(tvv.swin3d_t(weights=None), "head")
    assert ours.head.weight.shape == (32, 768)


@pytest.mark.parametrize(("arch", "builder", "head"), [("r2plus1d_18", tvv.r2plus1d_18, "fc"), ("swin3d_t", tvv.swin3d_t, "head")])
def test_local_weights_load_and_give_torchvisions_features(tmp_path, arch, builder, head):
    torch.manual_seed(0)
    reference = builder(weights=None, num_classes=400).eval()  # stands in for the Kinetics-400 file
    path = tmp_path / f"{arch}.pth"
    torch.save(reference.state_dict(), path)
    ours = build_model("rgb", layout=MG68, num_classes=6, arch=arch, weights=str(path)).eval()
    state = ours.state_dict()
    for k, v in reference.state_dict().items():
        if not k.startswith(head + "."):
            assert torch.equal(state[k], v), k
    assert getattr(ours, head).weight.shape[0] == 6
    setattr(reference, head, nn.Identity())
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[1], reference(x))


def test_weights_in_a_wrapped_checkpoint_load(tmp_path):
    source = build_model("rgb", layout=MG68, num_classes=3, **TINY["rgb"])
    path = tmp_path / "lite.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = build_model("rgb", layout=MG68, num_classes=5, weights=path, **TINY["rgb"])
    assert torch.equal(loaded.stem[0].weight, source.stem[0].weight)


def test_missing_or_foreign_weights_are_explained(tmp_path):
    missing = tmp_path / "r2plus1d_18-91a641e6.pth"
    with pytest.raises(FileNotFoundError) as error:
        build_model("rgb", layout=MG68, num_classes=5, arch="r2plus1d_18", weights=missing)
    message = str(error.value)
    assert str(missing) in message and tvv.R2Plus1D_18_Weights.KINETICS400_V1.url in message
    with pytest.raises(FileNotFoundError, match="swin3d_t-7615ae03.pth"):
        build_model("rgb", layout=MG68, num_classes=5, arch="swin3d_t", weights=tmp_path / "nope.pth")

    foreign = tmp_path / "lite.pt"
    torch.save(build_model("rgb", layout=MG68, num_classes=3, **TINY["rgb"]).state_dict(), foreign)
    with pytest.raises(ValueError, match=f"{foreign}: not a r2plus1d_18 state dict"):
        build_model("rgb", layout=MG68, num_classes=5, arch="r2plus1d_18", weights=foreign)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        build_model("rgb", layout=MG68, num_classes=5, **TINY["rgb"], weights=junk)


# ----------------------------------------------------------------------------------------------------
# Configuration errors


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="unknown modality"):
        build_model("depth", layout=MG68, num_classes=3)
    with pytest.raises(TypeError, match="unknown option"):
        build_model("joint", layout=MG68, num_classes=3, depth=50)
    with pytest.raises(TypeError, match="Layout"):
        build_model("joint", layout="mg68", num_classes=3)
    with pytest.raises(ValueError, match="streams"):
        build_model("joint", layout=MG68, num_classes=3, streams=("joint", "angle"))
    with pytest.raises(ValueError, match="num_blocks"):
        build_model("joint", layout=MG68, num_classes=3, dims=32)
    with pytest.raises(ValueError, match="3 items"):
        build_model("heatmap", layout=MG68, num_classes=3, inflate=(0, 1))
    with pytest.raises(ValueError, match="'r2plus1d_lite' only"):
        build_model("rgb", layout=MG68, num_classes=3, arch="swin3d_t", widths=(8, 16))
    with pytest.raises(ValueError, match="unknown RGB arch"):
        build_model("rgb", layout=MG68, num_classes=3, arch="x3d")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("heatmap", layout=MG68, num_classes=0)


@pytest.mark.parametrize(
    ("modality", "shape", "expected"),
    [("joint", (2, 8, 25, 3), r"\[\*, \*, 68, 3\]"), ("heatmap", (1, 17, 4, 8, 8), r"\[\*, 68, \*, \*, \*\]"), ("rgb", (1, 4, 8, 8), r"\[\*, 3, \*, \*, \*\]")],
)
def test_wrong_input_shape_is_reported(modality, shape, expected):
    model = build_model(modality, layout=MG68, num_classes=3, **TINY[modality])
    with pytest.raises(ValueError, match=expected):
        model(torch.rand(shape))


def test_feature_dim_matches_the_classifier_input():
    for modality in ("joint", "heatmap", "rgb"):
        model = build_model(modality, layout=SMALL, num_classes=3, **TINY[modality])
        linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert linear.in_features == model.feature_dim and linear.out_features == 3
    assert math.isclose(build_model("joint", layout=SMALL, num_classes=3, dims=(8, 12, 20)).feature_dim, 20)
