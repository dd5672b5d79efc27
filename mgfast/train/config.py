"""Training configuration: the shared keys as a dataclass, and the branch's ``input`` and ``model`` tables.

Precedence, lowest first: the dataclass defaults (and the defaults of the branch's input pipeline), the
preset of the modality (``mgfast/configs/<modality>.toml``: top-level keys are the ``default`` preset, a
``[<name>]`` table another preset on top of them), a user config file (TOML or JSON, the same keys), then
explicit overrides (the command line). The branch's own options sit in an ``input`` table (passed to its
input pipeline) and a ``model`` table (passed to its network); :mod:`mgfast.branches` checks both against
those signatures. Every value is converted to the type its field or parameter declares
(:mod:`mgfast.coerce`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from mgfast import branches
from mgfast.coerce import coerce
from mgfast.data.splits import SplitBy, Splits, resolve_splits
from mgfast.io.dataset import Dataset

Optimizer = Literal["sgd", "adamw"]
Schedule = Literal["cosine", "step"]
ClassWeights = Literal["sqrt", "inverse", "none"]
SelectMetric = Literal["accuracy", "macro_f1"]
OPTIMIZERS, SCHEDULES = get_args(Optimizer), get_args(Schedule)
CLASS_WEIGHTS, SELECT_METRICS = get_args(ClassWeights), get_args(SelectMetric)

TABLES = ("input", "model")
"""The branch's option tables: merged key by key, not replaced, by each layer of the precedence."""

RUN_ONLY_KEYS = ("workers", "progress", "resume", "device", "eval_batch_size")
"""Keys that may differ between a run and its resumption without changing the result (the branch adds
``input`` options of its own: :attr:`mgfast.branches.Branch.run_only_inputs`)."""

ADDED_KEYS = {"calib_fraction": 0.0, "precise_bn_batches": 0, "background_class": False}
"""Options added after runs were first written, with the value that reproduces such a run: a stored config
(``run.json``, a checkpoint) that lacks one was made without it."""

FLAT_INPUT_KEYS = {
    "heatmap_mode": {"heatmap": "mode"}, "sigma": {"heatmap": "sigma"}, "heatmap_box": {"heatmap": "box"},
    "joint_box": {"joint": "box"}, "compact_padding": {"heatmap": "compact_padding", "joint": "compact_padding"},
    "rgb_mean": {"rgb": "mean"}, "rgb_std": {"rgb": "std"}, "rgb_residual": {"rgb": "residual"},
    "rgb_cache_mb": {"rgb": "cache_mb"},
}
"""Input options that configs written before the ``input`` table held as top-level keys (stored runs, user
files): key -> {branch: its ``input`` option}. A key of another branch is dropped, as it never applied."""


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
    val_fraction: float = 0.2  # validation (checkpoint selection) carved by subject when the manifest has none
    calib_fraction: float = 0.15  # calibration split (fusion's temperatures and weights), carved after validation
    split_by: SplitBy = "subject"
    split_seed: int = 0
    background_class: bool = False  # learn a "no gesture" class from the dataset's background clips (last class)
    # ---- the branch's tables
    input: dict[str, Any] = field(default_factory=dict)  # the input pipeline's options, defaults filled in
    model: dict[str, Any] = field(default_factory=dict)  # the network's options
    # ---- optimisation
    epochs: int = 24
    batch_size: int = 32  # per process
    eval_batch_size: int | None = None  # per process; default batch_size
    optimizer: Optimizer = "sgd"
    lr: float = 0.2  # for a global batch of lr_batch clips, scaled linearly to the actual global batch (0 freezes
    # the weights: a rerun that only re-estimates batch-norm statistics and rescores)
    lr_batch: int = 256
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 3e-4
    schedule: Schedule = "cosine"
    milestones: tuple[int, ...] = ()  # step schedule: epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    min_lr: float = 0.0  # cosine floor, as a fraction of the peak lr
    clip_grad: float = 40.0  # max gradient norm; 0 disables
    amp: bool = True  # mixed precision (CUDA only)
    precise_bn_batches: int = 16  # training batches per process that re-estimate batch-norm statistics before
    # each evaluation (mgfast.train.batchnorm); 0 keeps the running averages
    # ---- losses
    class_weights: ClassWeights = "sqrt"
    ose_weight: float = 0.1  # the method trains with the OSE loss (DESIGN §7); 0 disables it
    label_smoothing: float = 0.0
    # ---- run
    seed: int = 0
    workers: int = 4
    device: str = "auto"
    select_metric: SelectMetric = "accuracy"
    progress: bool = True
    resume: bool = False
    init_from: str | None = None
    pseudo_labels: str | None = None
    pseudo_weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> TrainConfig:
        """The config stored as ``values`` (``to_dict``'s output), older ones included (:data:`ADDED_KEYS`,
        :data:`FLAT_INPUT_KEYS`; input options added since take their defaults)."""
        config = cls(modality=values.get("modality", ""))
        apply_values(config, {**ADDED_KEYS, **values}, where)
        if config.modality:
            config.input = {**input_defaults(config.modality), **config.input}
        return config

    def validate(self) -> TrainConfig:
        """Checks every value; raises ValueError naming the option and its allowed values. The ``input`` table
        is completed with the pipeline's defaults."""
        if not self.dataset:
            raise ValueError("no dataset directory given")
        branch = branches.branch(self.modality)
        if not self.out:
            raise ValueError("no run directory given (--out)")
        for key, hint in _HINTS.items():
            setattr(self, key, coerce(getattr(self, key), hint, key))
        self.input = {**input_defaults(self.modality), **branch.check_input_options(self.input, self.modality)}
        unknown = sorted(set(self.model) - set(branch.network_options()))
        if unknown:
            raise ValueError(f"unknown {self.modality} model option(s) {', '.join(unknown)}; accepted: "
                             f"{', '.join(branch.network_options())}")
        for key in ("clip_len", "train_size", "test_size", "num_clips", "val_num_clips", "epochs", "batch_size",
                    "lr_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)!r}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size!r}")
        for key in ("lr", "weight_decay", "warmup_epochs", "min_lr", "clip_grad", "ose_weight", "pseudo_weight",
                    "momentum", "gamma"):
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
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        return self

    def result_keys(self) -> dict[str, Any]:
        """The values that determine a run's result (all but :data:`RUN_ONLY_KEYS` and the branch's run-only
        input options)."""
        values = {k: v for k, v in self.to_dict().items() if k not in RUN_ONLY_KEYS}
        if self.modality in branches.BRANCHES:
            run_only = branches.branch(self.modality).run_only_inputs
            values["input"] = {k: v for k, v in self.input.items() if k not in run_only}
        return values


_HINTS = typing.get_type_hints(TrainConfig)


def input_defaults(modality: str) -> dict[str, Any]:
    """The defaults of the ``input`` table of branch ``modality``: those of its pipeline's signature."""
    return {name: parameter.default for name, parameter in branches.branch(modality).input_options().items()
            if parameter.default is not parameter.empty}


def _unflatten(config: TrainConfig, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the top-level input options of older configs (:data:`FLAT_INPUT_KEYS`) moved into the
    ``input`` table of ``config``'s branch (or dropped where they belong to another branch)."""
    flat = {key: values[key] for key in FLAT_INPUT_KEYS if key in values}
    if not flat:
        return values
    moved = {FLAT_INPUT_KEYS[key][config.modality]: value for key, value in flat.items()
             if config.modality in FLAT_INPUT_KEYS[key]}
    rest = {key: value for key, value in values.items() if key not in flat}
    return {**rest, "input": {**moved, **rest.get("input", {})}}


def apply_values(config: TrainConfig, values: dict[str, Any], where: str) -> None:
    """Sets ``config``'s fields from ``values``, converted to their declared types; the ``input`` and ``model``
    tables are merged key by key."""
    for key, value in _unflatten(config, values).items():
        if key not in _HINTS:
            raise ValueError(f"{where}: unknown option {key!r}; known options: {', '.join(sorted(_HINTS))}")
        value = coerce(value, _HINTS[key], f"{where}: {key}")
        if key == "input" and config.modality in branches.BRANCHES:
            value = branches.branch(config.modality).check_input_options(value, where)
        if key in TABLES:
            value = {**getattr(config, key), **value}
        setattr(config, key, value)


def open_dataset(config: TrainConfig, root: str | Path | None = None) -> Dataset:
    """The dataset a run with ``config`` trains on (``root``, default ``config.dataset``): with the background
    class when ``config.background_class``, else without its background clips."""
    dataset = Dataset(config.dataset if root is None else root)
    return dataset.with_background_class() if config.background_class else dataset


def config_splits(dataset: Dataset, config: TrainConfig) -> Splits:
    """The splits of ``dataset`` that a run with ``config`` trains, selects and calibrates on."""
    return resolve_splits(dataset, val_fraction=config.val_fraction, calib_fraction=config.calib_fraction,
                          split_by=config.split_by, split_seed=config.split_seed)


def presets(modality: str) -> dict[str, dict[str, Any]]:
    """The presets shipped for ``modality``: name -> values (each preset already merged over ``default``)."""
    branches.branch(modality)
    text = resources.files("mgfast.configs").joinpath(f"{modality}.toml").read_text()
    table = tomllib.loads(text)
    base = {k: v for k, v in table.items() if not (isinstance(v, dict) and k not in TABLES)}
    named = {"default": base}
    for name, values in table.items():
        if isinstance(values, dict) and name not in TABLES:
            merged = {**base, **values}
            for key in TABLES:
                merged[key] = {**base.get(key, {}), **values.get(key, {})}
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
