"""Training configuration: one flat dataclass, filled from a preset, a config file and overrides.

Precedence, lowest first: the dataclass defaults, the preset of the modality (``mgfast/configs/<modality>.toml``:
top-level keys are the ``default`` preset, a ``[<name>]`` table another preset on top of them), a user
config file (TOML or JSON, the same keys), then explicit overrides (the command line). The model's own
options sit in a ``model`` table and are passed to :func:`mgfast.models.build_model`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from mgfast.data import BOXES, HEATMAP_MODES, MODALITIES
from mgfast.data.rgb import IMAGENET_MEAN, IMAGENET_STD
from mgfast.data.splits import SPLIT_BY, Splits, resolve_splits
from mgfast.io.dataset import Dataset

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step")
CLASS_WEIGHTS = ("sqrt", "inverse", "none")
SELECT_METRICS = ("accuracy", "macro_f1")

RUN_ONLY_KEYS = ("workers", "progress", "resume", "device", "eval_batch_size", "rgb_cache_mb")
"""Keys that may differ between a run and its resumption without changing the result."""

ADDED_KEYS = {"calib_fraction": 0.0, "precise_bn_batches": 0}
"""Options added after runs were first written, with the value that reproduces such a run: a stored config
(``run.json``, a checkpoint) that lacks one was made without it."""


@dataclass
class TrainConfig:
    """Everything a training run depends on. ``dataset``, ``modality`` and ``out`` are required."""

    dataset: str = ""
    modality: str = ""
    out: str = ""
    preset: str = "default"
    # ---- data
    clip_len: int = 48
    train_size: int = 56
    test_size: int = 64
    num_clips: int = 10  # test-time clips per video clip, logits averaged
    val_num_clips: int = 1  # clips per validation clip during training (the final logits use num_clips)
    test_flip: bool = True  # also average over the horizontally flipped copy at test time
    flip_prob: float = 0.5
    area_range: tuple[float, float] = (0.56, 1.0)  # random resized crop area fraction (heatmap, rgb)
    heatmap_mode: str = "joints"  # joints | limbs | both (channels concatenated)
    sigma: float = 0.6
    compact_padding: float = 0.25
    joint_box: str = "saliency"  # saliency | compact
    heatmap_box: str = "compact"  # compact (PoseC3D) | saliency
    rgb_mean: tuple[float, float, float] = IMAGENET_MEAN
    rgb_std: tuple[float, float, float] = IMAGENET_STD
    rgb_residual: bool = False  # rgb: each frame minus the clip's mean frame (static appearance cancels)
    rgb_cache_mb: float = 0.0  # rgb: MiB of decoded crop clips kept per process (loader worker); 0 = off
    val_fraction: float = 0.2  # validation (checkpoint selection) carved by subject when the manifest has none
    calib_fraction: float = 0.15  # calibration split (fusion's temperatures and weights), carved after validation
    split_by: str = "subject"
    split_seed: int = 0
    # ---- model
    model: dict[str, Any] = field(default_factory=dict)
    # ---- optimisation
    epochs: int = 24
    batch_size: int = 32  # per process
    eval_batch_size: int | None = None  # per process; default batch_size
    optimizer: str = "sgd"
    lr: float = 0.2  # for a global batch of lr_batch clips, scaled linearly to the actual global batch (0 freezes
    # the weights: a rerun that only re-estimates batch-norm statistics and rescores)
    lr_batch: int = 256
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 3e-4
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()  # step schedule: epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    min_lr: float = 0.0  # cosine floor, as a fraction of the peak lr
    clip_grad: float = 40.0  # max gradient norm; 0 disables
    amp: bool = True  # mixed precision (CUDA only)
    precise_bn_batches: int = 16  # training batches per process that re-estimate batch-norm statistics before
    # each evaluation (mgfast.train.batchnorm); 0 keeps the running averages
    # ---- losses
    class_weights: str = "sqrt"
    ose_weight: float = 0.1  # the method trains with the OSE loss (DESIGN §7); 0 disables it
    label_smoothing: float = 0.0
    # ---- run
    seed: int = 0
    workers: int = 4
    device: str = "auto"
    select_metric: str = "accuracy"
    progress: bool = True
    resume: bool = False
    init_from: str | None = None
    pseudo_labels: str | None = None
    pseudo_weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> TrainConfig:
        """The config stored as ``values`` (``to_dict``'s output), older ones included (:data:`ADDED_KEYS`)."""
        config = cls()
        apply_values(config, {**ADDED_KEYS, **values}, where)
        return config

    def validate(self) -> TrainConfig:
        """Checks every value; raises ValueError naming the option and its allowed values."""
        if not self.dataset:
            raise ValueError("no dataset directory given")
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}; choose one of {', '.join(MODALITIES)} (--modality)")
        if not self.out:
            raise ValueError("no run directory given (--out)")
        choices = {"heatmap_mode": HEATMAP_MODES, "joint_box": BOXES, "heatmap_box": BOXES, "split_by": SPLIT_BY,
                   "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "class_weights": CLASS_WEIGHTS,
                   "select_metric": SELECT_METRICS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        for key in ("clip_len", "train_size", "test_size", "num_clips", "val_num_clips", "epochs", "batch_size",
                    "lr_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)!r}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size!r}")
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {self.sigma!r}")
        for key in ("lr", "weight_decay", "warmup_epochs", "min_lr", "clip_grad", "ose_weight", "pseudo_weight",
                    "compact_padding", "momentum", "gamma", "rgb_cache_mb"):
            if not (math.isfinite(getattr(self, key)) and getattr(self, key) >= 0):
                raise ValueError(f"{key} must be a non-negative number, got {getattr(self, key)!r}")
        for key in ("flip_prob", "label_smoothing"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key} must lie in [0, 1], got {getattr(self, key)!r}")
        for key in ("val_fraction", "calib_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise ValueError(f"{key} must lie in [0, 1), got {getattr(self, key)!r}")
        if self.val_fraction + self.calib_fraction >= 1:
            raise ValueError(f"val_fraction + calib_fraction must stay below 1 (training needs clips), got "
                             f"{self.val_fraction} + {self.calib_fraction}")
        lo, hi = self.area_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"area_range must be two fractions 0 < lo <= hi <= 1, got {self.area_range!r}")
        for key in ("workers", "precise_bn_batches"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)!r}")
        if self.modality == "rgb" and self.rgb_residual and self.clip_len < 2:
            raise ValueError(f"rgb_residual needs clip_len >= 2 (one frame minus its own mean is zero), got {self.clip_len}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        return self

    def result_keys(self) -> dict[str, Any]:
        """The values that determine a run's result (all but :data:`RUN_ONLY_KEYS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in RUN_ONLY_KEYS}


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(key: str, value: Any, where: str) -> Any:
    """``value`` converted to the type of field ``key`` (TOML/JSON give lists for tuples, ints for floats)."""
    current = getattr(TrainConfig(), key)
    kind = _FIELDS[key].type
    try:
        if key == "model":
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
        if value is None:
            if "None" not in str(kind):
                raise TypeError
            return None
        if isinstance(current, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(current, tuple) or "tuple" in str(kind):
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError
            items = tuple(value)
            if "int" in str(kind):
                return tuple(_exact_int(v) for v in items)
            return tuple(float(v) for v in items)
        if "int" in str(kind) and "float" not in str(kind):
            return _exact_int(value)
        if isinstance(current, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} = {value!r} has the wrong type (expected {kind})") from None


def _exact_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def apply_values(config: TrainConfig, values: dict[str, Any], where: str) -> None:
    """Sets ``config``'s fields from ``values``; a ``model`` table is merged key by key."""
    for key, value in values.items():
        if key not in _FIELDS:
            raise ValueError(f"{where}: unknown option {key!r}; known options: {', '.join(sorted(_FIELDS))}")
        value = _coerce(key, value, where)
        if key == "model":
            config.model = {**config.model, **value}
        else:
            setattr(config, key, value)


def config_splits(dataset: Dataset, config: TrainConfig) -> Splits:
    """The splits of ``dataset`` that a run with ``config`` trains, selects and calibrates on."""
    return resolve_splits(dataset, val_fraction=config.val_fraction, calib_fraction=config.calib_fraction,
                          split_by=config.split_by, split_seed=config.split_seed)


def presets(modality: str) -> dict[str, dict[str, Any]]:
    """The presets shipped for ``modality``: name -> values (each preset already merged over ``default``)."""
    text = resources.files("mgfast.configs").joinpath(f"{modality}.toml").read_text()
    table = tomllib.loads(text)
    base = {k: v for k, v in table.items() if not (isinstance(v, dict) and k != "model")}
    named = {"default": base}
    for name, values in table.items():
        if isinstance(values, dict) and name != "model":
            merged = {**base, **values}
            merged["model"] = {**base.get("model", {}), **values.get("model", {})}
            named[name] = merged
    return named


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Values from a TOML or JSON config file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(path.read_text())
        else:
            values = tomllib.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: invalid TOML ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a table of options")
    return values


def make_config(dataset: str | Path, modality: str, out: str | Path, *, preset: str = "default",
                config_file: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """A validated config: ``modality``'s ``preset``, then ``config_file``, then ``overrides`` (None = unset)."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {', '.join(MODALITIES)} (--modality)")
    available = presets(modality)
    if preset not in available:
        raise ValueError(f"unknown preset {preset!r} for {modality}; choose one of {', '.join(available)}")
    config = TrainConfig(dataset=str(Path(dataset).resolve()), modality=modality, out=str(out), preset=preset)
    apply_values(config, available[preset], f"preset {modality}:{preset}")
    if config_file is not None:
        values = read_config_file(config_file)
        for key in ("dataset", "modality", "out"):
            values.pop(key, None)  # given on the command line
        apply_values(config, values, str(config_file))
    apply_values(config, {k: v for k, v in overrides.items() if v is not None}, "overrides")
    return config.validate()
