"""A trained run's network, rebuilt from ``run.json`` and a checkpoint, and the input tensor it takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from mgfast.branches import branch
from mgfast.data import ClipInput
from mgfast.io.dataset import layout_from_dict
from mgfast.layout import Layout
from mgfast.runs import RUN_FILE, Run, checkpoint_path, read_run
from mgfast.train import checkpoint as ckpt
from mgfast.train.config import TrainConfig


@dataclass(frozen=True)
class RunNetwork:
    """A run's network in eval mode on the CPU, its test-time input pipeline and the checkpoint it came from."""

    run: Run
    config: TrainConfig
    layout: Layout
    clip_input: ClipInput
    model: nn.Module
    checkpoint: Path

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One window's network input without the batch axis (the test-time size, as `mgfast predict` scores)."""
        return window_shape(self.run.modality, self.clip_input, self.layout)


def window_shape(modality: str, clip_input: ClipInput, layout: Layout) -> tuple[int, ...]:
    """The network input of one test-time window: joint ``(T, V, 3)``; heatmap ``(C, T, H, W)``; rgb
    ``(3, T, H, W)`` (H = W = the run's ``test_size``)."""
    if modality == "joint":
        return (clip_input.clip_len, layout.num_joints, 3)
    if modality == "heatmap":
        return (clip_input.channels, clip_input.clip_len, clip_input.test_size, clip_input.test_size)
    if modality == "rgb":
        return (3, clip_input.clip_len, clip_input.test_size, clip_input.test_size)
    raise ValueError(f"no window shape is known for branch {modality!r}")


def load_run_network(run_dir: str | Path, checkpoint: str = "best") -> RunNetwork:
    """The network of the run in ``run_dir`` with the weights of ``checkpoint`` (``best``, ``last`` or a
    file); raises FileNotFoundError / ValueError naming the file that is missing or does not match."""
    run = read_run(run_dir)
    config = TrainConfig.from_dict(run.config, str(Path(run_dir) / RUN_FILE))
    layout = layout_from_dict(run.layout)
    path = checkpoint_path(Path(run_dir), checkpoint)
    state = ckpt.load_checkpoint(path)
    classes = [dataclasses.asdict(c) for c in run.classes]
    ckpt.check_compatible(state, path, modality=run.modality, layout=layout, classes=classes,
                          dataset=Path(run_dir) / RUN_FILE)
    spec = branch(run.modality)
    clip_input = spec.make_input(layout, dataclasses.asdict(config), config.input)
    options = {**clip_input.network_options(), **config.model}
    options.pop("weights", None)  # pretrained backbone weights: the checkpoint replaces them
    model = spec.build_network(layout, len(run.classes), options)
    model.load_state_dict(state["model"])
    return RunNetwork(run, config, layout, clip_input, model.eval(), path)
