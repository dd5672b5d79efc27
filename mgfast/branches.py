"""The branches mgfast trains, in one table: each branch's name, input pipeline, network and config section.

A branch's options live in three places of its config (``mgfast/configs/<name>.toml``): the shared
training keys (:class:`mgfast.train.TrainConfig`), an ``[input]`` table passed to its input pipeline and a
``[model]`` table passed to its network. The two tables are checked against the keyword-only parameters of
the pipeline class and the network builder, so a new option is one parameter there. Adding a branch (a
limb-heatmap or a bone stream, say) is one :class:`Branch` entry in :data:`BRANCHES`, its two classes and its
preset file.

The table names the classes by import path, so reading it (``NAMES``, as the command line's help does)
imports neither torch nor the networks.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mgfast.coerce import coerce, keyword_options
from mgfast.layout import Layout

if TYPE_CHECKING:
    from torch import nn

    from mgfast.data import ClipInput

SHARED_INPUT_KEYS = ("clip_len", "train_size", "test_size", "area_range", "flip_prob", "test_flip")
"""Input parameters set by the config's shared keys of the same name, for every pipeline that takes them;
the pipeline's other keyword parameters form the branch's ``[input]`` table."""


@dataclass(frozen=True)
class Branch:
    """One branch: its input pipeline class and network builder (``"module:name"``), which take the keypoint
    layout first when ``uses_layout``."""

    name: str
    input_path: str
    network_path: str
    uses_layout: bool
    summary: str
    run_only_inputs: tuple[str, ...] = ()
    """``[input]`` options that may differ between a run and its resumption without changing its result."""

    @cached_property
    def input(self) -> type[ClipInput]:
        return _load(self.input_path)

    @cached_property
    def network(self) -> Callable[..., nn.Module]:
        return _load(self.network_path)

    def input_options(self) -> dict[str, inspect.Parameter]:
        """The branch's ``[input]`` table: parameter name -> parameter (type and default)."""
        return keyword_options(self.input, exclude=SHARED_INPUT_KEYS)

    def network_options(self) -> list[str]:
        """The branch's ``[model]`` table: the network builder's keyword-only parameters."""
        return list(keyword_options(self.network))

    def check_input_options(self, values: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``values`` converted to the ``[input]`` table's declared types; unknown keys raise ValueError."""
        accepted = self.input_options()
        unknown = sorted(set(values) - set(accepted))
        if unknown:
            raise ValueError(f"{where}: unknown {self.name} input option(s) {', '.join(unknown)}; accepted: "
                             f"{', '.join(accepted)}")
        return {key: coerce(value, accepted[key].annotation, f"{where}: input.{key}") for key, value in values.items()}

    def make_input(self, layout: Layout, shared: Mapping[str, Any], options: Mapping[str, Any]) -> ClipInput:
        """The input pipeline: ``shared`` holds the config's shared keys (those the pipeline takes are
        passed), ``options`` the ``[input]`` table."""
        accepted = keyword_options(self.input)
        kwargs = {key: shared[key] for key in SHARED_INPUT_KEYS if key in accepted}
        kwargs.update(self.check_input_options(options, f"{self.name} input"))
        return self.input(layout, **kwargs) if self.uses_layout else self.input(**kwargs)

    def build_network(self, layout: Layout, num_classes: int, options: Mapping[str, Any]) -> nn.Module:
        """The network; an unknown option raises ``TypeError`` listing the accepted ones."""
        if not isinstance(layout, Layout):
            raise TypeError(f"layout must be a mgfast.layout.Layout, got {type(layout).__name__}")
        allowed = self.network_options()
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise TypeError(f"{self.name} model: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}")
        args = (layout, num_classes) if self.uses_layout else (num_classes,)
        return self.network(*args, **options)


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


BRANCHES: dict[str, Branch] = {branch.name: branch for branch in (
    Branch("joint", "mgfast.data.joint:JointInput", "mgfast.models.joint:DSTANet", uses_layout=True,
           summary="keypoint sequences [B, T, V, 3] -> DSTA-Net (spatial and temporal attention)"),
    Branch("heatmap", "mgfast.data.heatmap:HeatmapInput", "mgfast.models.heatmap:SlowOnly", uses_layout=True,
           summary="3D Gaussian heatmap volumes [B, C, T, H, W] -> PoseC3D's SlowOnly"),
    Branch("rgb", "mgfast.data.rgb:RGBInput", "mgfast.models.rgb:build_rgb_model", uses_layout=False,
           run_only_inputs=("cache_mb",), summary="saliency crop clips [B, 3, T, H, W] -> R(2+1)D or Video Swin"),
)}

NAMES = tuple(BRANCHES)
"""The branch names, in the order the commands list and fuse them."""


def branch(name: str) -> Branch:
    """The branch called ``name``; an unknown name raises ValueError listing the known ones."""
    if name not in BRANCHES:
        raise ValueError(f"unknown modality {name!r}; choose one of {', '.join(NAMES)} (--modality)")
    return BRANCHES[name]


def build_model(modality: str, *, layout: Layout, num_classes: int, **options: Any) -> nn.Module:
    """The network of branch ``modality`` sized from ``layout`` (joints, limbs) and ``num_classes``.

    Every network maps a batch to ``(logits [B, C], features [B, D])`` (the features are the pooled
    representation the classifier reads, used by the OSE loss) and has ``feature_dim`` (= D). ``options``
    are the branch's ``[model]`` table; an unknown key raises ``TypeError`` listing the accepted ones.
    """
    return branch(modality).build_network(layout, num_classes, options)
