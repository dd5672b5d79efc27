"""Scoring sliding windows with one trained branch: a window goes through the branch's own input pipeline in
its evaluation mode, exactly as an extracted clip of the same frames does in `mgfast predict`.

A window ``[start, end)`` is presented to the pipeline as a :class:`mgfast.io.dataset.Clip` of frames
``start .. end - 1`` whose saliency box is computed from the window's keypoints with extraction's parameters
(:data:`mgfast.extract.options.SALIENCY`), over a :class:`VideoKeypoints` view of the whole video's
keypoints (and, for the rgb branch, each window's crop, made as extraction makes a clip's). The pipeline
samples ``num_clips`` fixed views (and flipped copies), the network scores them through the
:class:`WindowModel` seam, and the logits are averaged per window, as in training's ``infer``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from mgfast.data import ClipInput, collate
from mgfast.extract.options import SALIENCY
from mgfast.extract.worker import crop_spans
from mgfast.io.dataset import Clip, Dataset, layout_from_dict
from mgfast.layout import Layout
from mgfast.ops import saliency_boxes
from mgfast.deploy import onnx
from mgfast.deploy.network import RunNetwork, load_run_network
from mgfast.runs import Run
from mgfast.train.config import TrainConfig
from mgfast.train.engine import make_input

ENGINES = ("torch", "onnx")


class WindowModel(Protocol):
    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """The branch's network input batch -> logits ``[N, C]``."""
        ...


class TorchWindowModel:
    """A run's network in eval mode, returning its logits only."""

    def __init__(self, network: torch.nn.Module):
        self.network = network.eval()

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.network(inputs)[0].float()


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)} (--engine)")


def load_window_model(run_dir: Path, engine: str, device: torch.device, checkpoint: str = "best",
                      engine_dir: Path | None = None) -> WindowModel:
    """The run's network as a :class:`WindowModel`: ``engine`` ``torch`` (the checkpoint's network) or ``onnx``
    (the network exported to ``engine_dir``, once per checkpoint, and run with ONNX Runtime)."""
    check_engine(engine)
    return window_model(load_run_network(run_dir, checkpoint), engine, device, checkpoint, engine_dir)


def window_model(network: RunNetwork, engine: str, device: torch.device, checkpoint: str,
                 engine_dir: Path | None) -> WindowModel:
    """:func:`load_window_model` for a network already loaded."""
    check_engine(engine)
    if engine == "torch":
        return TorchWindowModel(network.model.to(device))
    if engine_dir is None:
        raise ValueError("the onnx engine needs a folder for its exported models (engine_dir)")
    # The file is named by the checkpoint's hash: a retrained or adapted run gets a new export, a rerun reuses it.
    digest = onnx.metadata(network)["mgfast.checkpoint_sha256"][:16]
    path = Path(engine_dir) / f"{network.run.modality}-{digest}.onnx"
    if not path.is_file():
        Path(engine_dir).mkdir(parents=True, exist_ok=True)
        onnx.export_onnx(network.run.path, path, checkpoint=checkpoint)
    model = onnx.OnnxWindowModel(path, device)
    model.check_run(network.run)
    return model


class VideoKeypoints:
    """The part of :class:`mgfast.io.dataset.Dataset` an input pipeline reads, for one video's keypoints and,
    for the rgb branch, the crops of the windows being scored (:meth:`hold_crops`), kept in memory: a batch's
    crops are a few hundred MiB at most, and files would only be written to be read back once."""

    def __init__(self, name: str, keypoints: np.ndarray, layout: Layout, reader=None, crop_size: int | None = None,
                 device: torch.device | None = None):
        self.root = Path(name)
        self.layout = layout
        self.points = keypoints
        self.reader, self.crop_size, self.device = reader, crop_size, device or torch.device("cpu")
        self.crops: dict[str, np.ndarray] = {}

    def keypoints(self, clip: Clip) -> np.ndarray:
        return self.points[clip.start : clip.end + 1]

    def hold_crops(self, clips: list[Clip]) -> None:
        """Crops ``clips`` from the video as extraction crops a clip (``.npy`` crops, the run's dataset's crop
        size), decoding their frames once, and holds them in place of the previous ones."""
        if self.reader is None or self.crop_size is None:
            raise ValueError(f"{self.root}: the rgb branch scores the video's frames; pass its reader and crop size")
        boxes = torch.tensor([c.box for c in clips], dtype=torch.float32)
        crops = crop_spans(self.reader, [(c.start, c.end) for c in clips], boxes, self.crop_size, self.device)
        self.crops = {c.clip_id: crop for c, crop in zip(clips, crops)}

    def held_crop(self, clip: Clip) -> np.ndarray:
        if clip.clip_id not in self.crops:
            raise ValueError(f"{self.root}: window {clip.clip_id} has no crop; hold_crops its batch first")
        return self.crops[clip.clip_id]


def dataset_crop_size(run: Run) -> int:
    """The crop size of the run's dataset (its meta.json), which a window's crop must have to score as a clip."""
    try:
        size = Dataset(run.dataset).meta["params"]["crop_size"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{run.path}: an rgb run scores crops of the size its dataset has, but the dataset at "
                         f"{run.dataset} cannot be read ({error}); put it back where run.json says") from error
    if not isinstance(size, int):
        raise ValueError(f"{run.dataset}/meta.json records no crop size (crop_size {size!r}): the run's dataset "
                         "has no crops")
    return size


def window_boxes(keypoints: np.ndarray, windows: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """float32 ``[N, 4]``: each window's saliency box, as extraction computes a clip's."""
    points = torch.from_numpy(np.ascontiguousarray(keypoints))
    lengths = windows[:, 1] - windows[:, 0]
    if (lengths == lengths[0]).all():  # the usual case: one batched call
        stack = torch.stack([points[s:e] for s, e in windows.tolist()])
        return saliency_boxes(stack, frame_size, **SALIENCY).numpy()
    return np.stack([saliency_boxes(points[s:e], frame_size, **SALIENCY).numpy() for s, e in windows.tolist()])


def window_clips(video: str, windows: np.ndarray, boxes: np.ndarray, fps: float, frame_size: tuple[int, int]
                 ) -> list[Clip]:
    """One manifest-like clip per window (inclusive ends, as the manifest has them)."""
    height, width = frame_size
    return [Clip(clip_id=f"{video}_w{i}", video=video, subject=video, start=int(s), end=int(e) - 1, label=None,
                 split="test", frames=int(e - s), fps=fps, width=width, height=height,
                 box=tuple(float(v) for v in box), keypoints="", crop=None)
            for i, ((s, e), box) in enumerate(zip(windows.tolist(), boxes))]


@dataclass
class BranchScorer:
    """One run's pipeline and model: :meth:`score` gives the logits of windows of a video's keypoints."""

    run: Run
    config: TrainConfig
    clip_input: ClipInput
    model: WindowModel
    device: torch.device
    batch_size: int = 32
    crop_size: int | None = None  # rgb runs: the side of their dataset's crops

    @classmethod
    def load(cls, run_dir: Path, engine: str = "torch", device: torch.device | None = None,
             checkpoint: str = "best", batch_size: int = 32, single_view: bool = False,
             engine_dir: Path | None = None) -> BranchScorer:
        """``single_view``: one temporal sampling per window, no flipped copy, instead of the run's test-time
        views (``num_clips`` x 2 with ``test_flip``): that many times fewer forward passes, and scores that no
        longer equal `mgfast predict`'s."""
        check_engine(engine)
        network = load_run_network(run_dir, checkpoint)
        run, config = network.run, network.config
        if single_view:
            config = dataclasses.replace(config, num_clips=1, test_flip=False)
        device = device or torch.device("cpu")
        clip_input = make_input(config, network.layout)
        crop_size = dataset_crop_size(run) if run.modality == "rgb" else None
        model = window_model(network, engine, device, checkpoint, engine_dir)
        return cls(run, config, clip_input, model, device, batch_size, crop_size)

    @property
    def num_classes(self) -> int:
        return len(self.run.classes)

    def _batches(self, source: VideoKeypoints, clips: list[Clip]) -> Iterator[tuple[int, dict]]:
        for first in range(0, len(clips), self.batch_size):
            chunk = clips[first : first + self.batch_size]
            if self.crop_size is not None:
                source.hold_crops(chunk)
            yield len(chunk), collate([self.clip_input.load(source, c, train=False, num_clips=self.config.num_clips,
                                                            rng=None) for c in chunk])

    @torch.no_grad()
    def score_clips(self, source: VideoKeypoints, clips: list[Clip]) -> np.ndarray:
        """float32 ``[N, C]``: per clip the logits averaged over the pipeline's test views."""
        out = []
        for b, batch in self._batches(source, clips):
            total, views = None, 0
            for x in self.clip_input.eval_views(batch, self.device, torch.float32):
                logits = self.model(x).float().view(-1, b, self.num_classes)
                total = logits.sum(0) if total is None else total + logits.sum(0)
                views += logits.shape[0]
            out.append((total / views).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.num_classes), np.float32)

    def score(self, video: str, keypoints: np.ndarray, windows: np.ndarray, fps: float,
              frame_size: tuple[int, int], reader=None) -> np.ndarray:
        """float32 ``[N, C]`` logits of ``windows`` (``[N, 2]``, half-open) of a video's keypoints ``[T, V, 3]``;
        an rgb run also needs the video's ``reader`` (:class:`mgfast.io.video.VideoReader`), whose frames it
        crops batch by batch, in the windows' (time) order."""
        if self.crop_size is not None and reader is None:
            raise ValueError(f"{self.run.path} is an rgb run: it scores the video's frames, pass the video's reader")
        boxes = window_boxes(keypoints, windows, frame_size)
        source = VideoKeypoints(video, keypoints, layout_from_dict(self.run.layout), reader, self.crop_size,
                                self.device)
        return self.score_clips(source, window_clips(video, windows, boxes, fps, frame_size))
