"""The RGB branch: R(2+1)D and Video Swin networks over saliency crops.

Architectures (``arch``):

- ``r2plus1d_18``: torchvision's R(2+1)D-18 (Tran et al. 2018), 512-d features; Kinetics-400 clips are
  16 x 112 x 112.
- ``swin3d_t``: torchvision's Video Swin-T (Liu et al. 2022), 768-d features; Kinetics-400 clips are
  32 x 224 x 224 (any size works: windows are padded).
- ``r2plus1d_lite``: the same factorised (2+1)D residual design with configurable ``widths`` (one per stage)
  and ``blocks`` (per stage), small enough by default to train on a CPU; ``widths=(64, 128, 256, 512),
  blocks=(2, 2, 2, 2)`` rebuilds R(2+1)D-18 exactly.

The module and parameter names are torchvision's, so a torchvision state dict loads as is. Pretrained
weights come from a local file (``weights=<path>``): everything but the classifier is loaded, and the
classifier is a fresh one for ``num_classes``. Input ``[B, 3, T, H, W]``, normalised per channel (for the
Kinetics weights: mean (0.43216, 0.394666, 0.37645), std (0.22803, 0.22145, 0.216989) for R(2+1)D;
mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) for Swin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.models import video as tvv
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D

from mgfast.models._common import check_input, int_tuple, positive_int, probability

ARCHS = ("r2plus1d_18", "swin3d_t", "r2plus1d_lite")
"""RGB architectures :func:`build_rgb_model` knows."""

_KINETICS = {
    "r2plus1d_18": ("R2Plus1D_18_Weights.KINETICS400_V1", tvv.R2Plus1D_18_Weights.KINETICS400_V1.url),
    "swin3d_t": ("Swin3D_T_Weights.KINETICS400_V1", tvv.Swin3D_T_Weights.KINETICS400_V1.url),
}


class VideoResNet(nn.Module):
    """A (2+1)D residual network: ``stem``, ``layer1..N``, global average pooling, dropout, ``fc``."""

    head_name = "fc"

    def __init__(self, stem: nn.Module, layers: Sequence[nn.Module], feature_dim: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.stem = stem
        self.num_layers = len(layers)
        for i, layer in enumerate(layers):
            self.add_module(f"layer{i + 1}", layer)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.feature_dim = feature_dim
        self.dropout = nn.Dropout(probability("dropout", dropout))
        self.fc = nn.Linear(feature_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0, 0.01)  # torchvision's VideoResNet initialisation
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_input(x, (None, 3, None, None, None), "RGB model")
        x = self.stem(x)
        for i in range(self.num_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        features = self.avgpool(x).flatten(1)
        return self.fc(self.dropout(features)), features


class VideoSwin(nn.Module):
    """torchvision's Video Swin Transformer with its classifier ``head`` behind dropout."""

    head_name = "head"

    def __init__(self, swin: tvv.SwinTransformer3d, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.patch_embed, self.pos_drop, self.features = swin.patch_embed, swin.pos_drop, swin.features
        self.norm, self.avgpool = swin.norm, swin.avgpool
        self.feature_dim = swin.num_features
        self.dropout = nn.Dropout(probability("dropout", dropout))
        self.head = nn.Linear(self.feature_dim, num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)  # torchvision's Swin initialisation
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_input(x, (None, 3, None, None, None), "RGB model")
        x = self.norm(self.features(self.pos_drop(self.patch_embed(x))))  # [B, T', H', W', C]
        features = self.avgpool(x.permute(0, 4, 1, 2, 3)).flatten(1)
        return self.head(self.dropout(features)), features


def r2plus1d(num_classes: int, widths: Sequence[int], blocks: Sequence[int], stem_width: int | None, dropout: float) -> VideoResNet:
    """An R(2+1)D network of ``len(widths)`` stages (stride 2 in space and time from the second on).

    ``stem_width`` is the stem's middle width; by default 45/64 of the first stage's, as in R(2+1)D-18.
    """
    widths = int_tuple("widths", widths)
    blocks = int_tuple("blocks", blocks, len(widths))
    mid = positive_int("stem_width", stem_width) if stem_width is not None else max(1, widths[0] * 45 // 64)
    stem = nn.Sequential(
        nn.Conv3d(3, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, widths[0], kernel_size=(3, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(widths[0]),
        nn.ReLU(inplace=True),
    )
    layers, channels = [], widths[0]
    for i, (width, count) in enumerate(zip(widths, blocks)):
        stride = 1 if i == 0 else 2
        downsample = None
        if stride != 1 or channels != width:
            downsample = nn.Sequential(nn.Conv3d(channels, width, 1, stride=stride, bias=False), nn.BatchNorm3d(width))
        layer = [BasicBlock(channels, width, Conv2Plus1D, stride, downsample)]
        layer += [BasicBlock(width, width, Conv2Plus1D) for _ in range(count - 1)]
        layers.append(nn.Sequential(*layer))
        channels = width
    model = VideoResNet(stem, layers, channels, num_classes, dropout)
    for m in model.modules():  # torchvision's VideoResNet initialisation
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


# r2plus1d_lite's default shape: stage widths and blocks per stage (about 0.8M parameters).
LITE_WIDTHS = (16, 32, 64, 128)
LITE_BLOCKS = (1, 1, 1, 1)


def build_rgb_model(
    num_classes: int,
    *,
    arch: str = "r2plus1d_18",
    weights: str | Path | None = None,
    dropout: float = 0.5,
    widths: Sequence[int] | None = None,
    blocks: Sequence[int] | None = None,
    stem_width: int | None = None,
) -> nn.Module:
    """An RGB classifier ``model(x [B, 3, T, H, W]) -> (logits [B, C], features [B, D])``.

    Args:
        num_classes: number of classes.
        arch: one of :data:`ARCHS`.
        weights: a local state-dict file to start from (all but the classifier); see :func:`load_backbone`.
        dropout: dropout before the classifier.
        widths, blocks, stem_width: the shape of ``r2plus1d_lite`` (default :data:`LITE_WIDTHS`,
            :data:`LITE_BLOCKS`, 45/64 of the first width); the other archs have a fixed shape.
    """
    num_classes = positive_int("num_classes", num_classes)
    if weights is not None:
        _require_file(Path(weights), arch)  # before building: a missing file fails fast
    if arch == "r2plus1d_lite":
        widths = LITE_WIDTHS if widths is None else widths
        blocks = LITE_BLOCKS if blocks is None else blocks
        model: nn.Module = r2plus1d(num_classes, widths, blocks, stem_width, dropout)
    elif arch in _KINETICS:
        if (widths, blocks, stem_width) != (None, None, None):
            raise ValueError(f"widths, blocks and stem_width shape arch='r2plus1d_lite' only; {arch} has a fixed shape")
        if arch == "r2plus1d_18":
            tv = tvv.r2plus1d_18(weights=None)
            model = VideoResNet(tv.stem, [tv.layer1, tv.layer2, tv.layer3, tv.layer4], 512, num_classes, dropout)
        else:
            model = VideoSwin(tvv.swin3d_t(weights=None), num_classes, dropout)
    else:
        raise ValueError(f"unknown RGB arch {arch!r}; choose one of {ARCHS}")
    if weights is not None:
        load_backbone(model, weights, arch)
    return model


def _state_dict_from(checkpoint: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint: a state dict, or one under ``state_dict``/``model``; no ``module.``."""
    for key in ("state_dict", "model"):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, Mapping) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors); save one with torch.save(model.state_dict(), path)")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def _require_file(path: Path, arch: str) -> None:
    """Raises ``FileNotFoundError`` naming ``path`` and, for Kinetics archs, where to get the weights."""
    if path.is_file():
        return
    hint = "save one with torch.save(model.state_dict(), path)"
    if arch in _KINETICS:
        name, url = _KINETICS[arch]
        hint = (f"mgfast does not download: fetch torchvision's {name} weights from {url} on a machine with "
                "network access, copy the file here and pass weights=<that file>")
    raise FileNotFoundError(f"{path}: weights file not found; {hint}")


def load_backbone(model: nn.Module, path: str | Path, arch: str) -> None:
    """Loads every weight but the classifier from the state-dict file ``path`` into ``model``.

    The file holds a torchvision-style state dict of the same architecture (e.g. the Kinetics-400 weights);
    its classifier, whatever its class count, is ignored. Raises ``FileNotFoundError`` (saying where to get
    the Kinetics-400 file) or ``ValueError`` when the file does not fit the architecture.
    """
    path = Path(path)
    _require_file(path, arch)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: cannot read a torch checkpoint ({error})") from None
    state = _state_dict_from(checkpoint, path)
    head = model.head_name + "."
    state = {k: v for k, v in state.items() if not k.startswith(head)}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(head)}
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    wrong = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''} ({len(keys)})"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape differs", wrong))
            if keys
        )
        raise ValueError(f"{path}: not a {arch} state dict ({details})")
    model.load_state_dict(state, strict=False)
