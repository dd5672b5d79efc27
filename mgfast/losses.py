"""Long-tail losses: class weights, weighted cross-entropy and the Orthogonal Semantic Embedding loss.

- :func:`class_weights`: square-root smoothed (default), inverse-frequency or no class weighting.
- :class:`WeightedCrossEntropy`: cross-entropy with class weights, label smoothing and per-sample weights
  (pseudo-labelled clips may count less); without sample weights it equals
  ``torch.nn.functional.cross_entropy(logits, target, weight=..., label_smoothing=...)``.
- :class:`OSELoss`: a projection head maps features to ``embed_dim >= num_classes`` dimensions, each class
  has a fixed unit anchor, the anchors mutually orthogonal, and the loss is ``mean(1 - cos(g(f), a_y))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

WEIGHT_MODES = ("sqrt", "inverse", "none")
"""Class weighting modes of :func:`class_weights`."""


def class_weights(counts: Sequence[int] | np.ndarray | torch.Tensor, mode: str = "sqrt") -> torch.Tensor:
    """Per-class loss weights, float32 ``[C]``, from training-label counts ``[C]``.

    - ``sqrt``: ``w_c = n_c^(-1/2)``, scaled so the mean over the classes present (``n_c > 0``) is 1;
    - ``inverse``: ``w_c = n_c^(-1)``, scaled likewise;
    - ``none``: all ones (the unweighted loss).

    In ``sqrt`` and ``inverse`` a class absent from the counts gets weight 0 (its inverse count is
    infinite); no training sample has its label, so it only stops label smoothing from moving mass to it.
    """
    if mode not in WEIGHT_MODES:
        raise ValueError(f"class weighting mode must be one of {WEIGHT_MODES}, got {mode!r}")
    n = torch.as_tensor(np.asarray(counts.tolist() if isinstance(counts, torch.Tensor) else counts), dtype=torch.float64)
    if n.dim() != 1 or n.numel() == 0:
        raise ValueError(f"counts must be a non-empty 1-D sequence (one count per class), got shape {list(n.shape)}")
    if not torch.isfinite(n).all() or (n < 0).any():
        raise ValueError("counts must be finite and non-negative")
    if mode == "none":
        return torch.ones(n.numel(), dtype=torch.float32)
    present = n > 0
    if not present.any():
        raise ValueError("counts are all zero: no class has training samples")
    power = 0.5 if mode == "sqrt" else 1.0
    w = torch.where(present, n.clamp_min(1e-300) ** -power, torch.zeros_like(n))
    return (w / w[present].mean()).to(torch.float32)


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(values) / sum(weights)``, and 0 (not NaN) when the weights sum to 0."""
    total = weights.sum()
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, values.sum() / safe, values.sum() * 0)


def _sample_weights(sample_weight: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor | None:
    if sample_weight is None:
        return None
    if not isinstance(sample_weight, torch.Tensor) or sample_weight.shape != (batch,):
        shape = list(sample_weight.shape) if isinstance(sample_weight, torch.Tensor) else type(sample_weight).__name__
        raise ValueError(f"sample_weight must be a tensor of shape [{batch}] (one weight per sample), got {shape}")
    return sample_weight.to(dtype=like.dtype, device=like.device)


def _check_targets(target: object, batch: int, num_classes: int) -> torch.Tensor:
    if not isinstance(target, torch.Tensor) or target.dtype not in (torch.int64, torch.int32) or target.shape != (batch,):
        got = f"{target.dtype} {list(target.shape)}" if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must be an integer tensor of shape [{batch}] (class indices), got {got}")
    # A range check needs the values on the host: done on CPU only, so a GPU step never waits for it.
    if target.device.type == "cpu" and batch and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"target holds class indices outside [0, {num_classes}); drop unlabelled (-1) samples first")
    return target.long()


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy with class weights, label smoothing and optional per-sample weights.

    With class weights ``w``, smoothing ``e``, sample weights ``s`` (default 1) and ``C`` classes, sample
    ``i`` with label ``y`` and log-probabilities ``l`` costs
    ``s_i * ((1 - e) * w_y * (-l_y) + e / C * sum_c w_c * (-l_c))``, and the loss is the sum over the batch
    divided by ``sum_i s_i * w_(y_i)`` -- torch's weighted mean, so an integer ``s_i`` counts as the
    sample repeated ``s_i`` times. A batch whose weights sum to 0 costs 0.
    """

    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not isinstance(label_smoothing, (int, float)) or isinstance(label_smoothing, bool) or not 0 <= label_smoothing <= 1:
            raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32)
            if weight.dim() != 1 or not torch.isfinite(weight).all() or (weight < 0).any():
                raise ValueError("weight must be a 1-D tensor of finite non-negative class weights")
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise ValueError(f"logits must be a [B, C] tensor, got {list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
        batch, num_classes = logits.shape
        if self.weight is not None and self.weight.numel() != num_classes:
            raise ValueError(f"the loss has {self.weight.numel()} class weights but the logits have {num_classes} classes")
        target = _check_targets(target, batch, num_classes)
        log_p = F.log_softmax(logits.float(), dim=1)
        w = self.weight if self.weight is not None else torch.ones(num_classes, device=logits.device)
        w_y = w[target]
        per_sample = -(1 - self.label_smoothing) * w_y * log_p.gather(1, target[:, None]).squeeze(1)
        if self.label_smoothing:
            per_sample = per_sample - self.label_smoothing / num_classes * (log_p * w).sum(dim=1)
        s = _sample_weights(sample_weight, batch, log_p)
        if s is not None:
            per_sample, w_y = per_sample * s, w_y * s
        return _weighted_mean(per_sample, w_y)


def default_embed_dim(num_classes: int) -> int:
    """The OSE embedding size: ``num_classes`` rounded up to a multiple of 8."""
    return 8 * math.ceil(num_classes / 8)


def orthogonal_anchors(num_classes: int, embed_dim: int, seed: int = 0) -> torch.Tensor:
    """``[num_classes, embed_dim]`` orthonormal rows: the Q factor of a seeded Gaussian matrix."""
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(embed_dim, num_classes, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).T.to(torch.float32)  # the sign fix makes Q unique


def orthogonalise(embeddings: torch.Tensor) -> torch.Tensor:
    """The orthonormal rows closest to ``embeddings`` ``[C, E]`` (rows unit-normalised first).

    Symmetric (Loewdin) orthogonalisation: with ``U S V^T`` the thin SVD, the answer is ``U V^T``, the
    orthonormal set nearest in Frobenius norm, which treats every class alike (unlike Gram-Schmidt, which
    keeps the first class's vector and bends the rest).
    """
    e = torch.as_tensor(embeddings, dtype=torch.float64)
    if e.dim() != 2 or e.shape[0] > e.shape[1]:
        raise ValueError(f"class embeddings must be [C, E] with E >= C, got {list(e.shape)}")
    norms = e.norm(dim=1, keepdim=True)
    if not torch.isfinite(e).all() or (norms == 0).any():
        raise ValueError("class embeddings must be finite and non-zero")
    u, s, vh = torch.linalg.svd(e / norms, full_matrices=False)
    if s[-1] < 1e-6 * s[0]:
        raise ValueError("class embeddings are linearly dependent (two classes share a direction); they cannot be orthogonalised")
    return (u @ vh).to(torch.float32)


class OSELoss(nn.Module):
    """Orthogonal Semantic Embedding loss: ``mean(1 - cos(g(f), a_y))`` with fixed orthonormal anchors.

    Args:
        feature_dim: size of the model features fed to the projection head ``g`` (a linear layer).
        num_classes: number of classes (anchors).
        embed_dim: projection size, >= ``num_classes``; default :func:`default_embed_dim`, or the width of
            ``class_embeddings``.
        class_embeddings: optional ``[C, E]`` vectors (e.g. text embeddings of the class names), made
            orthonormal by :func:`orthogonalise`; by default the anchors are :func:`orthogonal_anchors`.
        seed: seed of the default anchors.

    ``forward(features [B, D], target [B], sample_weight [B] | None)``: the weighted mean over the batch
    (``sum s_i (1 - cos_i) / sum s_i``). The anchors are a buffer: saved with the model, never trained.
    """

    def __init__(
        self,
        feature_dim: int,
        num_classes: int,
        embed_dim: int | None = None,
        *,
        class_embeddings: torch.Tensor | np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("feature_dim", feature_dim), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if class_embeddings is not None:
            anchors = orthogonalise(torch.as_tensor(class_embeddings))
            if anchors.shape[0] != num_classes:
                raise ValueError(f"class_embeddings has {anchors.shape[0]} rows but there are {num_classes} classes")
            if embed_dim is not None and embed_dim != anchors.shape[1]:
                raise ValueError(f"embed_dim={embed_dim} differs from the class embeddings' width {anchors.shape[1]}")
        else:
            embed_dim = default_embed_dim(num_classes) if embed_dim is None else embed_dim
            if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim < num_classes:
                raise ValueError(f"embed_dim must be an int >= num_classes ({num_classes}) so the anchors can be orthogonal, got {embed_dim!r}")
            anchors = orthogonal_anchors(num_classes, embed_dim, seed)
        self.num_classes = num_classes
        self.embed_dim = anchors.shape[1]
        self.projection = nn.Linear(feature_dim, self.embed_dim)
        self.register_buffer("anchors", anchors)

    def forward(self, features: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[1] != self.projection.in_features:
            got = list(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"features must be [B, {self.projection.in_features}], got {got}")
        batch = features.shape[0]
        target = _check_targets(target, batch, self.num_classes)
        projected = self.projection(features.to(self.projection.weight.dtype))
        cost = 1 - F.cosine_similarity(projected, self.anchors[target], dim=1)
        s = _sample_weights(sample_weight, batch, cost)
        if s is None:
            s = torch.ones_like(cost)
        return _weighted_mean(cost * s, s)
