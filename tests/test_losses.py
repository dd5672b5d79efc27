"""Class weights, weighted cross-entropy and the OSE loss against NumPy references and torch's own loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mgfast.losses import (
    OSELoss,
    WeightedCrossEntropy,
    class_weights,
    default_embed_dim,
    orthogonal_anchors,
    orthogonalise,
)


# ----------------------------------------------------------------------------------------------------
# Class weights


def _reference_weights(counts: np.ndarray, power: float) -> np.ndarray:
    """w_c = n_c^-power for present classes, 0 for absent ones, then mean 1 over the present ones."""
    w = np.zeros(len(counts))
    for c, n in enumerate(counts):
        if n > 0:
            w[c] = 1.0 / n**power
    present = [w[c] for c in range(len(counts)) if counts[c] > 0]
    return w / (sum(present) / len(present))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("mode", "power"), [("sqrt", 0.5), ("inverse", 1.0)])
def test_class_weights_match_the_formula(seed, mode, power):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 500, size=32)
    counts[rng.integers(0, 32, size=3)] = 0  # a few absent classes
    w = class_weights(counts, mode)
    assert w.dtype == torch.float32 and w.shape == (32,)
    np.testing.assert_allclose(w.numpy(), _reference_weights(counts, power), rtol=1e-6)
    assert w[torch.as_tensor(counts) > 0].mean().item() == pytest.approx(1.0, abs=1e-6)
    assert (w[torch.as_tensor(counts) == 0] == 0).all()


def test_sqrt_weights_are_the_square_root_of_inverse_weights_up_to_scale():
    counts = torch.tensor([1000, 250, 10, 1])
    sqrt, inverse = class_weights(counts, "sqrt"), class_weights(counts, "inverse")
    ratio = (sqrt**2 / inverse).numpy()
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)
    assert sqrt[0].item() / sqrt[1].item() == pytest.approx(0.5)  # 4x the samples, half the weight


def test_class_weights_none_and_edge_cases():
    assert torch.equal(class_weights([5, 0, 3], "none"), torch.ones(3))
    np.testing.assert_allclose(class_weights([7, 7, 7]).numpy(), np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(class_weights(np.array([4])).numpy(), [1.0])
    for bad, match in (([0, 0], "all zero"), ([3, -1], "non-negative"), ([[1, 2]], "1-D"), ([], "1-D")):
        with pytest.raises(ValueError, match=match):
            class_weights(bad)
    with pytest.raises(ValueError, match="mode"):
        class_weights([1, 2], "log")


# ----------------------------------------------------------------------------------------------------
# Weighted cross-entropy


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_cross_entropy_equals_torch(seed, smoothing, weighted):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(16, 7, generator=g, dtype=torch.float64)).float().requires_grad_()
    target = torch.randint(0, 7, (16,), generator=g)
    weight = torch.rand(7, generator=g) + 0.1 if weighted else None
    ours = WeightedCrossEntropy(weight, label_smoothing=smoothing)(logits, target)
    ref_logits = logits.detach().clone().requires_grad_()
    ref = F.cross_entropy(ref_logits, target, weight=weight, label_smoothing=smoothing)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_integer_sample_weights_count_as_repeated_samples(smoothing):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(10, 5, generator=g)
    target = torch.randint(0, 5, (10,), generator=g)
    repeats = torch.tensor([0, 1, 2, 3, 1, 0, 2, 1, 1, 4])
    weight = torch.rand(5, generator=g) + 0.5
    ours = WeightedCrossEntropy(weight, smoothing)(logits, target, repeats.float())
    ref = F.cross_entropy(
        logits.repeat_interleave(repeats, dim=0), target.repeat_interleave(repeats), weight=weight, label_smoothing=smoothing
    )
    torch.testing.assert_close(ours, ref)


def _reference_weighted_ce(logits, target, class_w, sample_w, eps):
    """The documented formula, in float64 NumPy."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    c = logits.shape[1]
    num = den = 0.0
    for i, y in enumerate(target):
        num += sample_w[i] * ((1 - eps) * class_w[y] * -log_p[i, y] + eps / c * np.sum(class_w * -log_p[i]))
        den += sample_w[i] * class_w[y]
    return num / den


def test_real_sample_weights_match_the_formula():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(12, 6)) * 2
    target = rng.integers(0, 6, size=12)
    class_w, sample_w = rng.uniform(0.2, 2, size=6), rng.uniform(0, 1, size=12)
    loss = WeightedCrossEntropy(torch.tensor(class_w), 0.15)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(target), torch.tensor(sample_w, dtype=torch.float32)
    )
    assert loss.item() == pytest.approx(_reference_weighted_ce(logits, target, class_w, sample_w, 0.15), rel=1e-5)


def test_zero_total_weight_costs_zero_with_finite_gradients():
    logits = torch.randn(3, 4, requires_grad=True)
    loss = WeightedCrossEntropy(label_smoothing=0.1)(logits, torch.tensor([0, 1, 2]), torch.zeros(3))
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(logits.grad).all()


def test_weighted_cross_entropy_rejects_bad_input():
    loss = WeightedCrossEntropy(torch.ones(4))
    logits = torch.randn(2, 4)
    with pytest.raises(ValueError, match="outside"):
        loss(logits, torch.tensor([0, -1]))
    with pytest.raises(ValueError, match="integer tensor of shape"):
        loss(logits, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="4 class weights"):
        loss(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(logits, torch.tensor([0, 1]), torch.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        WeightedCrossEntropy(label_smoothing=1.5)


def test_class_weights_move_with_the_module():
    loss = WeightedCrossEntropy(class_weights([1, 4]))
    assert "weight" in dict(loss.named_buffers())
    assert loss.to(torch.float64).weight.dtype == torch.float64


# ----------------------------------------------------------------------------------------------------
# OSE loss


@pytest.mark.parametrize(("classes", "dim"), [(32, None), (33, None), (5, None), (5, 12)])
def test_ose_anchors_are_orthonormal(classes, dim):
    loss = OSELoss(16, classes, dim)
    a = loss.anchors.double()
    expected_dim = dim if dim is not None else default_embed_dim(classes)
    assert a.shape == (classes, expected_dim) and expected_dim >= classes and expected_dim % (8 if dim is None else 1) == 0
    torch.testing.assert_close(a @ a.T, torch.eye(classes, dtype=torch.float64), atol=1e-6, rtol=0)
    assert "anchors" not in dict(loss.named_parameters())


def test_default_embed_dim_rounds_up_to_a_multiple_of_eight():
    assert [default_embed_dim(c) for c in (1, 8, 9, 32, 33)] == [8, 8, 16, 32, 40]


def test_anchors_are_seeded():
    assert torch.equal(orthogonal_anchors(6, 8, seed=1), orthogonal_anchors(6, 8, seed=1))
    assert not torch.allclose(orthogonal_anchors(6, 8, seed=1), orthogonal_anchors(6, 8, seed=2))


def test_ose_loss_is_zero_at_the_anchor_and_two_opposite():
    loss = OSELoss(8, 5, 8)
    with torch.no_grad():  # g = identity: the projection of a feature is the feature
        loss.projection.weight.copy_(torch.eye(8))
        loss.projection.bias.zero_()
    target = torch.tensor([0, 3, 4, 1, 3])
    scale = torch.tensor([0.5, 1.0, 2.0, 7.0, 0.01])[:, None]
    at_anchor = loss.anchors[target] * scale
    assert loss(at_anchor, target).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(-at_anchor, target).item() == pytest.approx(2.0, abs=1e-6)
    other = loss.anchors[(target + 1) % 5]  # orthogonal to the right anchor: cos 0
    assert loss(other, target).item() == pytest.approx(1.0, abs=1e-6)


def test_ose_loss_matches_numpy_on_random_inputs():
    torch.manual_seed(0)
    loss = OSELoss(20, 6)
    features = torch.randn(9, 20)
    target = torch.randint(0, 6, (9,))
    weights = torch.rand(9)
    w, b = loss.projection.weight.detach().double().numpy(), loss.projection.bias.detach().double().numpy()
    g = features.double().numpy() @ w.T + b
    a = loss.anchors.double().numpy()[target.numpy()]
    cos = (g * a).sum(axis=1) / np.linalg.norm(g, axis=1) / np.linalg.norm(a, axis=1)
    assert loss(features, target).item() == pytest.approx(np.mean(1 - cos), rel=1e-5)
    s = weights.double().numpy()
    assert loss(features, target, weights).item() == pytest.approx(np.sum(s * (1 - cos)) / np.sum(s), rel=1e-5)


def test_ose_gradients_reach_the_projection_and_features():
    loss = OSELoss(10, 4)
    features = torch.randn(6, 10, requires_grad=True)
    loss(features, torch.tensor([0, 1, 2, 3, 0, 1])).backward()
    assert features.grad.abs().sum() > 0 and loss.projection.weight.grad.abs().sum() > 0


def test_class_embeddings_are_orthogonalised_symmetrically():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    orthogonal = q[:5] * rng.uniform(0.5, 3, size=(5, 1))  # orthogonal rows of various lengths
    np.testing.assert_allclose(OSELoss(7, 5, class_embeddings=orthogonal).anchors.numpy(), q[:5], atol=1e-6)

    embeddings = rng.normal(size=(5, 12))
    anchors = OSELoss(7, 5, class_embeddings=embeddings).anchors.double().numpy()
    np.testing.assert_allclose(anchors @ anchors.T, np.eye(5), atol=1e-6)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    gram_schmidt = np.linalg.qr(unit.T)[0].T
    gram_schmidt *= np.sign((gram_schmidt * unit).sum(axis=1, keepdims=True))
    # The symmetric solution is the nearest orthonormal set, so no farther than Gram-Schmidt's.
    assert np.linalg.norm(anchors - unit) <= np.linalg.norm(gram_schmidt - unit) + 1e-9
    assert ((anchors * unit).sum(axis=1) > 0).all()


def test_ose_rejects_bad_configuration():
    with pytest.raises(ValueError, match="embed_dim must be an int >= num_classes"):
        OSELoss(8, 10, 6)
    with pytest.raises(ValueError, match="linearly dependent"):
        orthogonalise(torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="E >= C"):
        orthogonalise(torch.randn(4, 3))
    with pytest.raises(ValueError, match="rows but there are"):
        OSELoss(8, 3, class_embeddings=torch.randn(4, 6))
    with pytest.raises(ValueError, match="differs"):
        OSELoss(8, 3, 8, class_embeddings=torch.randn(3, 6))
    with pytest.raises(ValueError, match=r"features must be \[B, 8\]"):
        OSELoss(8, 3)(torch.randn(2, 7), torch.tensor([0, 1]))
