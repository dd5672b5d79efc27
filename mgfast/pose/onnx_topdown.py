"""Whole-body pose from a top-down ONNX model (RTMPose / RTMW style, COCO-WholeBody 133 points).

The model is the user's: any single-person, top-down network exported to ONNX that takes one NCHW float32
image crop and returns COCO-WholeBody keypoints either as SimCC vectors (two outputs, ``[N, 133, W*r]`` and
``[N, 133, H*r]``) or as heatmaps (one output ``[N, 133, h, w]``). Pre- and post-processing follow mmpose's
top-down pipeline, so exports from mmpose / mmdeploy work unchanged:

* the person box is padded by 1.25 and widened or heightened to the model's aspect ratio; an affine warp
  (bilinear, zeros outside the frame) maps it onto the model input;
* pixels are normalised per RGB channel with ImageNet mean (123.675, 116.28, 103.53) and std
  (58.395, 57.12, 57.375);
* SimCC: arg-max along each axis divided by the split ratio (output length / input length, read from the
  shapes); score = the smaller of the two maxima (mmpose's ``get_simcc_maximum``);
* heatmaps: arg-max, score = the maximum, then the location moves a quarter pixel towards the higher
  neighbour on each axis (mmpose's ``refine_keypoints``) and scales to input pixels;
* locations map back to frame pixels through the inverse of the crop's affine transform. Scores are clipped
  to [0, 1]; a score <= 0 marks the point as missing.

Person box (``box=``): interview videos show one seated person, so no detector is needed.

* ``"track"`` (default): a frame is first searched whole; the box of its confident keypoints (score >=
  ``box_threshold``, at least ``min_box_points`` of them), enlarged 1.2 times about its centre and clipped to
  the frame, then serves for a second look at that frame and for the next frame. When too few points are
  confident, the next frame is searched whole again. Frames run one at a time.
* ``"frame"``: every frame is searched whole (fast, batched; the person is small in the crop when the frame is
  wide).
* a callable ``box(index, frame) -> (x1, y1, x2, y2) | None``: the caller's box per frame (``None``: the whole
  frame), batched; plug a person detector in here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from mgfast.layout import to_mg68
from mgfast.pose.base import PoseBackend, check_frames

NUM_POINTS = 133
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
PADDING = 1.25
TRACK_ENLARGE = 1.2

Box = tuple[float, float, float, float]
BoxFunction = Callable[[int, np.ndarray], "Sequence[float] | None"]


def box_center_scale(box: Sequence[float], aspect: float, padding: float = PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Centre and size ``(w, h)`` of the region to crop for ``box`` = (x1, y1, x2, y2): padded, then grown
    along one axis so that w / h equals ``aspect`` (model input width / height)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h])


def crop_matrix(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine map from frame pixels to model-input pixels: ``center`` goes to the input's centre and
    the region's width ``scale[0]`` to the input width ``input_size[0]`` (no rotation)."""
    s = input_size[0] / scale[0]
    return np.array([[s, 0.0, input_size[0] / 2 - s * center[0]], [0.0, s, input_size[1] / 2 - s * center[1]]])


def preprocess(frame: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """The normalised model input ``[3, h, w]`` float32 for one RGB frame and its crop matrix."""
    crop = cv2.warpAffine(frame, matrix, input_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    return ((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)


def decode_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, input_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel locations ``[N, K, 2]`` and scores ``[N, K]`` from SimCC vectors ``[N, K, Wx]``, ``[N, K, Wy]``."""
    ratio_x, ratio_y = simcc_x.shape[-1] / input_size[0], simcc_y.shape[-1] / input_size[1]
    if not np.isclose(ratio_x, ratio_y, rtol=1e-6):
        raise ValueError(f"SimCC outputs of length {simcc_x.shape[-1]} and {simcc_y.shape[-1]} do not share one split "
                         f"ratio for a {input_size[0]}x{input_size[1]} input; is the x/y output order right?")
    locations = np.stack([np.argmax(simcc_x, axis=-1) / ratio_x, np.argmax(simcc_y, axis=-1) / ratio_y], axis=-1)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1))
    return locations, scores


def decode_heatmaps(heatmaps: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel locations ``[N, K, 2]`` and scores ``[N, K]`` from heatmaps ``[N, K, h, w]``."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    y, x = np.divmod(np.argmax(flat, axis=-1), w)
    scores = flat.max(axis=-1)
    # A quarter pixel towards the higher neighbour: the true peak lies between the two best samples.
    rows = heatmaps[np.arange(n)[:, None], np.arange(k)[None, :], y]  # [n, k, w]
    cols = heatmaps[np.arange(n)[:, None], np.arange(k)[None, :], :, x]  # [n, k, h]
    inner_x, inner_y = (x > 0) & (x < w - 1), (y > 0) & (y < h - 1)
    right = np.take_along_axis(rows, np.minimum(x + 1, w - 1)[..., None], -1)[..., 0]
    left = np.take_along_axis(rows, np.maximum(x - 1, 0)[..., None], -1)[..., 0]
    below = np.take_along_axis(cols, np.minimum(y + 1, h - 1)[..., None], -1)[..., 0]
    above = np.take_along_axis(cols, np.maximum(y - 1, 0)[..., None], -1)[..., 0]
    fx = x + 0.25 * np.where(inner_x, np.sign(right - left), 0.0)
    fy = y + 0.25 * np.where(inner_y, np.sign(below - above), 0.0)
    return np.stack([fx * (input_size[0] / w), fy * (input_size[1] / h)], axis=-1), scores


def keypoint_box(points: np.ndarray, width: int, height: int, threshold: float, min_points: int) -> Box | None:
    """The box of the confident keypoints ``[K, 3]``, enlarged 1.2 times and clipped to the frame; ``None``
    when fewer than ``min_points`` are confident or the box is degenerate."""
    confident = points[points[:, 2] >= threshold, :2]
    if len(confident) < min_points:
        return None
    lo, hi = confident.min(axis=0), confident.max(axis=0)
    center, half = (lo + hi) / 2, (hi - lo) / 2 * TRACK_ENLARGE
    x1, y1 = max(center[0] - half[0], 0.0), max(center[1] - half[1], 0.0)
    x2, y2 = min(center[0] + half[0], float(width)), min(center[1] + half[1], float(height))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return (x1, y1, x2, y2)


def _default_providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxPoseBackend(PoseBackend):
    """Top-down whole-body pose with a user-supplied ONNX model; see the module docstring for the details.

    Args:
        model: path to the ``.onnx`` file (COCO-WholeBody 133 points, SimCC or heatmap head).
        box: ``"track"`` (default), ``"frame"`` or a callable ``box(index, frame)``; see the module docstring.
        batch_size: crops per model call in batched modes (a model exported with a fixed batch uses that).
        providers: onnxruntime execution providers; default CUDA first when available, else CPU.
        input_size: ``(width, height)`` for models whose input shape leaves them open.
        box_threshold: keypoint score from which a point counts for the tracking box.
        min_box_points: confident points needed for a tracking box.
    """

    name = "onnx"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        box: str | BoxFunction = "track",
        batch_size: int = 16,
        providers: Sequence[str] | None = None,
        input_size: tuple[int, int] | None = None,
        box_threshold: float = 0.3,
        min_box_points: int = 5,
    ) -> None:
        if model is None:
            raise ValueError('the "onnx" pose backend needs model=<path to a COCO-WholeBody-133 top-down .onnx model>')
        if not (callable(box) or box in ("track", "frame")):
            raise ValueError(f'box must be "track", "frame" or a callable box(index, frame), got {box!r}')
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.path = Path(model)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: ONNX pose model not found; pass model=<path to a .onnx file>")
        self.box, self.batch_size = box, batch_size
        self.box_threshold, self.min_box_points = float(box_threshold), int(min_box_points)

        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(self.path), providers=list(providers or _default_providers()))
        except Exception as error:  # onnxruntime raises its own exception types for unreadable models
            raise ValueError(f"{self.path}: onnxruntime cannot load this model ({error})") from None
        self._read_signature(input_size)

    def _read_signature(self, input_size: tuple[int, int] | None) -> None:
        """Reads the input size, the fixed batch (if any) and the kind of head from the model's signature."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        # An open dimension reads as None or a symbolic name.
        image_like = len(shape) == 4 and (shape[1] == 3 or not isinstance(shape[1], int))
        if not image_like or inputs[0].type != "tensor(float)":
            got = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise ValueError(f"{self.path}: expected one float32 image input [N, 3, H, W], got {got}")
        self.input_name = inputs[0].name
        batch, _, h, w = inputs[0].shape
        if input_size is not None:
            if isinstance(w, int) and isinstance(h, int) and (w, h) != tuple(input_size):
                raise ValueError(f"{self.path}: input_size={tuple(input_size)} but the model takes {w}x{h} images; "
                                 "leave input_size out for this model")
            w, h = (int(v) for v in input_size)
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            raise ValueError(f"{self.path}: the model input {inputs[0].shape} leaves the size open; "
                             "pass input_size=(width, height)")
        self.input_size = (w, h)
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        ranks = [len(o.shape) for o in outputs]
        if ranks == [4]:
            self.head, self.output_names = "heatmap", [outputs[0].name]
        elif ranks == [3, 3]:
            self.head = "simcc"
            names = [o.name for o in outputs]
            # mmdeploy names them simcc_x and simcc_y; otherwise the first output is x.
            if names[0].lower().endswith("y") and names[1].lower().endswith("x"):
                names.reverse()
            self.output_names = names
        else:
            got = ", ".join(f"{o.name} {o.shape}" for o in outputs)
            raise ValueError(f"{self.path}: unexpected model outputs ({got}); expected SimCC x and y [N, 133, L] "
                             "or heatmaps [N, 133, h, w]")

    def close(self) -> None:
        """Drops the onnxruntime session (and the GPU memory it holds)."""
        self.session = None

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input-pixel locations ``[N, 133, 2]`` and scores ``[N, 133]`` for a batch of model inputs."""
        if self.session is None:
            raise RuntimeError(f"{self.path}: this pose backend was closed; create a new one with get_backend")
        step = self.fixed_batch or self.batch_size
        results = []
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            if self.fixed_batch and len(chunk) < step:  # a fixed-batch model needs full batches
                chunk = np.concatenate([chunk, np.zeros((step - len(chunk),) + chunk.shape[1:], chunk.dtype)])
            out = self.session.run(self.output_names, {self.input_name: chunk})
            out = [np.asarray(o, dtype=np.float32) for o in out]
            n = min(step, len(batch) - start)
            results.append([o[:n] for o in out])
        outputs = [np.concatenate(parts) for parts in zip(*results)]
        expected = "[N, 133, h, w]" if self.head == "heatmap" else "[N, 133, L]"
        for o in outputs:
            if o.shape[0] != len(batch) or o.shape[1] != NUM_POINTS:
                raise ValueError(f"{self.path}: model output of shape {list(o.shape)} where {expected} was expected "
                                 f"(COCO-WholeBody, {NUM_POINTS} points)")
        if self.head == "heatmap":
            return decode_heatmaps(outputs[0], self.input_size)
        return decode_simcc(outputs[0], outputs[1], self.input_size)

    def _estimate_boxes(self, frames: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """COCO-WholeBody keypoints ``[n, 133, 3]`` in frame pixels for frames and their person boxes."""
        aspect = self.input_size[0] / self.input_size[1]
        regions = [box_center_scale(b, aspect) for b in boxes]
        matrices = [crop_matrix(c, s, self.input_size) for c, s in regions]
        batch = np.stack([preprocess(f, m, self.input_size) for f, m in zip(frames, matrices)])
        locations, scores = self._run(batch)
        centers = np.stack([c for c, _ in regions])[:, None, :]
        pixel = np.stack([m[0, 0] for m in matrices])[:, None, None]  # input pixels per frame pixel
        half_input = np.array(self.input_size, dtype=np.float64) / 2
        xy = (locations - half_input) / pixel + centers
        return np.concatenate([xy, np.clip(scores, 0.0, 1.0)[..., None]], axis=-1).astype(np.float32)

    def estimate_wholebody(self, frames: np.ndarray) -> np.ndarray:
        """COCO-WholeBody keypoints ``[T, 133, 3]`` (x, y, score) in frame pixels for RGB frames ``[T, H, W, 3]``."""
        frames = check_frames(frames)
        t, height, width = frames.shape[:3]
        whole: Box = (0.0, 0.0, float(width), float(height))
        out = np.zeros((t, NUM_POINTS, 3), dtype=np.float32)
        if self.box == "track":
            previous: Box | None = None
            for i in range(t):
                points = self._estimate_boxes(frames[i:i + 1], [previous or whole])[0]
                if previous is None:  # searched whole: look again, closer, at the person it found
                    closer = keypoint_box(points, width, height, self.box_threshold, self.min_box_points)
                    if closer is not None:
                        points = self._estimate_boxes(frames[i:i + 1], [closer])[0]
                out[i] = points
                previous = keypoint_box(points, width, height, self.box_threshold, self.min_box_points)
            return out
        step = self.fixed_batch or self.batch_size
        for start in range(0, t, step):
            chunk = frames[start:start + step]
            boxes = [whole if self.box == "frame" else self._user_box(start + j, f, whole) for j, f in enumerate(chunk)]
            out[start:start + len(chunk)] = self._estimate_boxes(chunk, boxes)
        return out

    def _user_box(self, index: int, frame: np.ndarray, whole: Box) -> Box:
        box = self.box(index, frame)
        if box is None:
            return whole
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
            usable = bool(np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1)
        except (TypeError, ValueError):
            usable = False
        if not usable:
            raise ValueError(f"the box function returned {box!r} for frame {index}; expected None or (x1, y1, x2, y2) "
                             "with x2 > x1 and y2 > y1")
        return (x1, y1, x2, y2)

    def estimate(self, frames: np.ndarray) -> np.ndarray:
        """mg68 keypoints ``[T, 68, 3]`` in frame pixels for RGB frames ``[T, H, W, 3]``."""
        return to_mg68(self.estimate_wholebody(frames), "coco_wholebody133")
