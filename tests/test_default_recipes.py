"""The published recipes (`--preset default`) train stably, and batch-norm statistics are re-estimated
for the weights that evaluation uses."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from mgfast.io.dataset import Dataset
from mgfast.train import make_config, presets, train
from mgfast.train.batchnorm import recompute_batchnorm_statistics
from mgfast.train.distributed import setup
from tiny_dataset import make_dataset

# Only the input sizes shrink (CPU time); the networks, optimisers, schedules and peak learning rates are the
# published ones. Batches of 8 give several steps per epoch on the tiny corpus; lr_batch shrinks with them so
# the peak learning rate equals the recipe's at its own batch size.
INPUT_SIZES = {"joint": dict(clip_len=8), "heatmap": dict(clip_len=6, train_size=32, test_size=36),
               "rgb": dict(clip_len=4, train_size=32, test_size=32)}
BATCH = 8


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("recipes") / "ds", subjects=6, clips_per_subject=5)


@pytest.mark.parametrize("modality", ["joint", "heatmap", "rgb"])
def test_default_recipe_trains_without_diverging(root, tmp_path, modality):
    recipe = presets(modality)["default"]
    config = make_config(root, modality, tmp_path / modality, **INPUT_SIZES[modality], batch_size=BATCH,
                         lr_batch=round(recipe["lr_batch"] * BATCH / recipe["batch_size"]), epochs=6, workers=0,
                         progress=False, num_clips=1, test_flip=False)
    assert config.model == recipe.get("model", {}) and config.optimizer == recipe["optimizer"]
    run = train(config)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    bound = 2 * math.log(Dataset(root).num_classes)  # twice the loss of a uniform guess
    for row in rows:
        assert math.isfinite(row["train_loss"]) and row["train_loss"] < bound, rows
        assert math.isfinite(row["val_loss"]) and row["val_loss"] < bound, rows


# ---- precise batch norm


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 1)
        self.bn1 = nn.BatchNorm2d(5)
        self.drop = nn.Dropout(0.5)
        self.bn2 = nn.BatchNorm1d(5, momentum=0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn1(self.conv(x))
        return self.bn2(self.drop(y).mean(dim=(2, 3)) * 3 + 1)


def reference_statistics(model: Net, batches: list[torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the mean over batches of the batch mean and of the unbiased batch variance of the layer's
    input, computed by hand with the layers normalising each batch by its own statistics and dropout off
    (the network as evaluation runs it)."""
    sums: dict[str, list[torch.Tensor]] = {"bn1": [], "bn2": []}
    for x in batches:
        a = model.conv(x)
        sums["bn1"].append(torch.stack([a.mean(dim=(0, 2, 3)), a.var(dim=(0, 2, 3), unbiased=True)]))
        mean = a.mean(dim=(0, 2, 3), keepdim=True)
        var = a.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        y = (a - mean) / torch.sqrt(var + model.bn1.eps) * model.bn1.weight.view(1, -1, 1, 1) + model.bn1.bias.view(1, -1, 1, 1)
        b = y.mean(dim=(2, 3)) * 3 + 1
        sums["bn2"].append(torch.stack([b.mean(0), b.var(0, unbiased=True)]))
    return {k: tuple(torch.stack(v).mean(0)) for k, v in sums.items()}


def test_recompute_matches_the_average_batch_statistics():
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():
        model.bn1.weight.uniform_(0.5, 2)
        model.bn1.bias.uniform_(-1, 1)
    batches = [torch.randn(6, 3, 4, 5) * 3 + 2 for _ in range(4)]
    model.train()
    used = recompute_batchnorm_statistics(model, iter(batches), setup("cpu"))
    assert used == 4 and model.training and model.bn2.momentum == 0.3 and model.bn1.momentum == 0.1
    with torch.no_grad():
        expected = reference_statistics(model, batches)
    for name in ("bn1", "bn2"):
        layer = getattr(model, name)
        torch.testing.assert_close(layer.running_mean, expected[name][0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(layer.running_var, expected[name][1], rtol=1e-5, atol=1e-5)


def test_recompute_leaves_the_model_alone_without_inputs_or_batch_norm():
    model = Net().eval()
    before = copy.deepcopy(model.state_dict())
    assert recompute_batchnorm_statistics(model, iter([]), setup("cpu")) == 0
    assert not model.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert recompute_batchnorm_statistics(nn.Linear(2, 2), iter([torch.zeros(1, 2)]), setup("cpu")) == 0


def test_precise_bn_is_a_switch(root, tmp_path):
    with pytest.raises(ValueError, match="precise_bn_batches must be >= 0"):
        make_config(root, "joint", tmp_path / "r", precise_bn_batches=-1)
    assert make_config(root, "joint", tmp_path / "r").precise_bn_batches == 16
