"""Pose backends: the top-down ONNX backend against tiny ONNX models with known outputs, and MediaPipe Holistic's
landmark conversion and option checks with fake landmark objects and a fake installed package (the real
MediaPipe runs in test_pose_mediapipe.py where it is installed).

References here follow mmpose's description of the top-down pipeline (three-point affine warp matrix,
SimCC / heatmap maxima) and are written independently of mgfast.pose.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mgfast.layout import MG68, to_mg68  # noqa: E402
from mgfast.pose import BACKENDS, PoseBackend, get_backend  # noqa: E402
from mgfast.pose import mediapipe_holistic, onnx_topdown  # noqa: E402
from mgfast.pose.onnx_topdown import OnnxPoseBackend, box_center_scale, crop_matrix, preprocess  # noqa: E402

K = 133
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


# ---- tiny ONNX models ------------------------------------------------------------------------------------

def _save(path, nodes, input_shape, outputs, initializers):
    graph = helper.make_graph(
        nodes, "test", [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_shape))], outputs,
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def constant_model(path, constants: dict[str, np.ndarray], input_shape=("N", 3, 32, 24)):
    """Outputs ``constants[name]`` (shape [K, ...]) for every image in the batch: [N, K, ...]."""
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),  # [N] zeros that carry the batch size
    ]
    initializers = [numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    outputs = []
    for name, value in constants.items():
        shape = np.array([-1] + [1] * value.ndim, np.int64)
        initializers += [numpy_helper.from_array(value.astype(np.float32), f"{name}_value"),
                         numpy_helper.from_array(shape, f"{name}_shape")]
        nodes += [helper.make_node("Reshape", ["zeros", f"{name}_shape"], [f"{name}_zeros"]),
                  helper.make_node("Add", [f"{name}_zeros", f"{name}_value"], [name])]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [input_shape[0], *value.shape]))
    return _save(path, nodes, input_shape, outputs, initializers)


def echo_model(path, input_shape=("N", 3, 64, 48)):
    """Heatmaps equal to the model input: channel k of the output is input channel k % 3."""
    nodes = [
        helper.make_node("Concat", ["input"] * 45, ["tiled"], axis=1),
        helper.make_node("Slice", ["tiled", "starts", "ends", "axes"], ["heatmaps"]),
    ]
    initializers = [numpy_helper.from_array(np.array([v], np.int64), n)
                    for n, v in (("starts", 0), ("ends", K), ("axes", 1))]
    outputs = [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [input_shape[0], K, *input_shape[2:]])]
    return _save(path, nodes, input_shape, outputs, initializers)


# ---- references ------------------------------------------------------------------------------------------

def reference_matrix(box, input_size, padding=1.25):
    """mmpose: bbox -> (center, scale) with padding and the aspect fix, then the three-point warp matrix."""
    x1, y1, x2, y2 = box
    center = np.array([x1 + x2, y1 + y2]) * 0.5
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    aspect = input_size[0] / input_size[1]
    w, h = (w, w / aspect) if w > h * aspect else (h * aspect, h)
    dst_w, dst_h = input_size
    src = np.array([center, center + [0.0, -0.5 * w], [0, 0]], dtype=np.float64)
    dst = np.array([[dst_w * 0.5, dst_h * 0.5], [dst_w * 0.5, dst_h * 0.5 - 0.5 * dst_w], [0, 0]])
    for p in (src, dst):  # third point: the second rotated 90 degrees about the first
        d = p[0] - p[1]
        p[2] = p[1] + [-d[1], d[0]]
    return cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32)), center, np.array([w, h])


def reference_crop(frame, matrix, input_size):
    """Bilinear sampling of the frame at the inverse-mapped pixel positions, zeros outside; then normalised."""
    w, h = input_size
    inverse = cv2.invertAffineTransform(matrix)
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    sx = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]
    sy = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]
    padded = np.zeros((frame.shape[0] + 4, frame.shape[1] + 4, 3))
    padded[2:-2, 2:-2] = frame
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]

    def at(y, x):
        inside = (y >= -2) & (y < frame.shape[0] + 2) & (x >= -2) & (x < frame.shape[1] + 2)
        value = padded[np.clip(y + 2, 0, padded.shape[0] - 1), np.clip(x + 2, 0, padded.shape[1] - 1)]
        return np.where(inside[..., None], value, 0)

    crop = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
            + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)
    out = np.empty((3, h, w))
    for c in range(3):
        out[c] = (crop[..., c] - MEAN[c]) / STD[c]
    return out


def to_frame(matrix, u, v):
    inverse = cv2.invertAffineTransform(matrix)
    return inverse @ np.array([u, v, 1.0])


def smooth_frame(rng, height, width):
    small = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


# ---- ONNX: pre-processing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("box,input_size", [((10.0, 5.0, 70.0, 55.0), (24, 32)), ((0.0, 0.0, 120.0, 90.0), (48, 64)),
                                            ((30.5, 20.0, 50.5, 85.0), (192, 256)), ((5.0, 5.0, 45.0, 25.0), (40, 40))])
def test_crop_matrix_matches_mmpose_three_point_construction(box, input_size):
    matrix, center, scale = reference_matrix(box, input_size)
    got_center, got_scale = box_center_scale(box, input_size[0] / input_size[1])
    np.testing.assert_allclose(got_center, center)
    np.testing.assert_allclose(got_scale, scale, rtol=1e-12)
    np.testing.assert_allclose(crop_matrix(got_center, got_scale, input_size), matrix, rtol=1e-5, atol=1e-4)


def test_preprocess_matches_an_independent_bilinear_crop():
    rng = np.random.default_rng(0)
    frame = smooth_frame(rng, 90, 120)
    for box, size in (((10.0, 5.0, 70.0, 55.0), (24, 32)), ((-20.0, 30.0, 100.0, 120.0), (48, 64))):
        center, scale = box_center_scale(box, size[0] / size[1])
        got = preprocess(frame, crop_matrix(center, scale, size), size)
        assert got.dtype == np.float32 and got.shape == (3, size[1], size[0])
        # cv2 interpolates in 1/32-pixel steps; a smooth frame keeps that within a grey level.
        np.testing.assert_allclose(got, reference_crop(frame, reference_matrix(box, size)[0], size), atol=2.0 / 57)


# ---- ONNX: decoding and mapping back ---------------------------------------------------------------------

def simcc_logits(rng, length, peaks, values):
    logits = rng.uniform(-1.0, -0.2, (K, length))
    logits[np.arange(K), peaks] = values
    return logits


@pytest.mark.parametrize("reverse_names", [False, True])
def test_simcc_outputs_decode_to_frame_pixels(tmp_path, reverse_names):
    rng = np.random.default_rng(1)
    size = (24, 32)  # model input width, height; split ratio 2
    px, py = rng.integers(0, 48, K), rng.integers(0, 64, K)
    vx, vy = rng.uniform(0.1, 1.4, K), rng.uniform(0.1, 1.4, K)
    vx[:5] = -0.1  # nothing found: every logit negative
    sx, sy = simcc_logits(rng, 48, px, vx), simcc_logits(rng, 64, py, vy)
    constants = {"simcc_y": sy, "simcc_x": sx} if reverse_names else {"simcc_x": sx, "simcc_y": sy}
    path = constant_model(tmp_path / "simcc.onnx", constants, input_shape=("N", 3, size[1], size[0]))
    boxes = [(10.0, 5.0, 70.0, 55.0), None, (30.0, 40.0, 50.0, 88.0), (0.0, 0.0, 20.0, 10.0), (5.5, 6.5, 99.0, 60.0)]
    backend = get_backend("onnx", model=path, box=lambda i, frame: boxes[i], batch_size=2)
    frames = rng.integers(0, 256, (5, 90, 120, 3), dtype=np.uint8)
    got = backend.estimate_wholebody(frames)
    assert got.shape == (5, K, 3) and got.dtype == np.float32
    score = np.clip(np.minimum(vx, vy), 0, 1)
    for t, box in enumerate(boxes):
        matrix = reference_matrix(box or (0.0, 0.0, 120.0, 90.0), size)[0]
        expected = np.array([to_frame(matrix, px[k] / 2.0, py[k] / 2.0) for k in range(K)])
        np.testing.assert_allclose(got[t, :, :2], expected, atol=1e-3)
        np.testing.assert_allclose(got[t, :, 2], score, rtol=1e-6)
    mg68 = backend.estimate(frames)
    np.testing.assert_array_equal(mg68, to_mg68(got, "coco_wholebody133"))
    assert (mg68[:, MG68.index("Nose")] == 0).all()  # COCO point 0 had only negative logits
    np.testing.assert_array_equal(mg68[:, MG68.index("LHandWrist")], got[:, 91])


def reference_heatmap_peak(heatmap):
    """Arg-max, then a quarter pixel towards the higher neighbour on each axis away from the border."""
    h, w = heatmap.shape
    y, x = divmod(int(np.argmax(heatmap)), w)
    fx, fy = float(x), float(y)
    if 0 < x < w - 1:
        fx += 0.25 * np.sign(heatmap[y, x + 1] - heatmap[y, x - 1])
    if 0 < y < h - 1:
        fy += 0.25 * np.sign(heatmap[y + 1, x] - heatmap[y - 1, x])
    return fx, fy, heatmap[y, x]


@pytest.mark.parametrize("batch", ["N", 1, 3])
def test_heatmap_outputs_decode_to_frame_pixels(tmp_path, batch):
    rng = np.random.default_rng(2)
    size = (24, 32)
    heatmaps = rng.uniform(0.0, 0.3, (K, 8, 6))
    ys, xs = rng.integers(0, 8, K), rng.integers(0, 6, K)
    heatmaps[np.arange(K), ys, xs] = rng.uniform(0.5, 0.95, K)
    heatmaps[:4, 0, 0], heatmaps[4:8, 7, 5] = 0.99, 0.99  # peaks in corners: no refinement across the border
    path = constant_model(tmp_path / "heatmap.onnx", {"heatmaps": heatmaps}, input_shape=(batch, 3, size[1], size[0]))
    backend = get_backend("onnx", model=path, box="frame", batch_size=4)
    assert backend.fixed_batch == (None if batch == "N" else batch)
    frames = rng.integers(0, 256, (7, 60, 80, 3), dtype=np.uint8)
    got = backend.estimate_wholebody(frames)
    matrix = reference_matrix((0.0, 0.0, 80.0, 60.0), size)[0]
    expected = np.empty((K, 3))
    for k in range(K):
        fx, fy, value = reference_heatmap_peak(heatmaps[k])
        expected[k] = (*to_frame(matrix, fx * size[0] / 6, fy * size[1] / 8), value)
    for t in range(7):
        np.testing.assert_allclose(got[t], expected, atol=1e-3)


def spot_frame(spots, height=96, width=128):
    """Black frame with a 7x7 plateau of one colour per spot (dim, so normalised values stay within (0, 1))."""
    frame = np.zeros((height, width, 3), np.uint8)
    for (x, y), colour in spots:
        frame[y:y + 7, x:x + 7] = colour
    return frame


SPOT_COLOURS = [(150, 0, 0), (0, 140, 0), (0, 0, 130)]


def assert_spots_found(points, spots):
    """Point k echoes input channel k % 3: it must lie on that channel's plateau with its normalised value."""
    for k in range(K):
        (x, y), colour = spots[k % 3]
        c = k % 3
        assert x - 1 <= points[k, 0] <= x + 7 and y - 1 <= points[k, 1] <= y + 7, (k, points[k])
        assert points[k, 2] == pytest.approx((colour[c] - MEAN[c]) / STD[c], abs=1e-5)


def test_echo_model_checks_channel_order_normalisation_and_crop(tmp_path):
    path = echo_model(tmp_path / "echo.onnx")
    spots = list(zip([(40, 30), (70, 50), (55, 70)], SPOT_COLOURS))
    backend = get_backend("onnx", model=path, box=lambda i, frame: (30.0, 25.0, 90.0, 85.0))
    got = backend.estimate_wholebody(spot_frame(spots)[None])
    assert_spots_found(got[0], spots)


def test_track_mode_looks_again_at_the_person_and_follows_it(tmp_path, monkeypatch):
    path = echo_model(tmp_path / "echo.onnx")
    backend = get_backend("onnx", model=path)  # box="track" by default
    calls = []
    original = OnnxPoseBackend._estimate_boxes

    def spy(self, frames, boxes):
        calls.append(list(boxes))
        return original(self, frames, boxes)

    monkeypatch.setattr(OnnxPoseBackend, "_estimate_boxes", spy)
    first = list(zip([(40, 30), (70, 50), (55, 70)], SPOT_COLOURS))
    second = list(zip([(44, 33), (74, 52), (58, 72)], SPOT_COLOURS))
    got = backend.estimate_wholebody(np.stack([spot_frame(first), spot_frame(second)]))
    assert_spots_found(got[0], first)
    assert_spots_found(got[1], second)

    def expected_box(points):
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        c, half = (lo + hi) / 2, (hi - lo) / 2 * 1.2
        return (max(c[0] - half[0], 0), max(c[1] - half[1], 0), min(c[0] + half[0], 128), min(c[1] + half[1], 96))

    assert len(calls) == 3  # frame 0 whole, frame 0 again in the person's box, frame 1 in frame 0's box
    assert calls[0] == [(0.0, 0.0, 128.0, 96.0)]
    np.testing.assert_allclose(calls[2][0], expected_box(got[0]), atol=1e-3)
    assert calls[1][0][0] < calls[2][0][2]  # a real box, not the whole frame


def test_track_mode_searches_whole_frames_while_nothing_is_found(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    path = constant_model(tmp_path / "empty.onnx", {"x": -np.ones((K, 48)), "y": -np.ones((K, 64))})
    backend = get_backend("onnx", model=path, box="track")
    calls = []
    original = OnnxPoseBackend._estimate_boxes
    monkeypatch.setattr(OnnxPoseBackend, "_estimate_boxes",
                        lambda self, f, b: calls.append(list(b)) or original(self, f, b))
    out = backend.estimate(rng.integers(0, 256, (3, 40, 50, 3), dtype=np.uint8))
    assert out.shape == (3, 68, 3) and (out == 0).all()
    assert calls == [[(0.0, 0.0, 50.0, 40.0)]] * 3


def test_empty_clip_gives_empty_keypoints(tmp_path):
    path = echo_model(tmp_path / "echo.onnx")
    for box in ("frame", "track"):
        out = get_backend("onnx", model=path, box=box).estimate(np.zeros((0, 20, 30, 3), np.uint8))
        assert out.shape == (0, 68, 3) and out.dtype == np.float32


# ---- ONNX: errors and providers ----------------------------------------------------------------------------

def test_missing_or_unreadable_models_are_named(tmp_path):
    with pytest.raises(ValueError, match="model="):
        get_backend("onnx")
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        get_backend("onnx", model=tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx"):
        get_backend("onnx", model=junk)


def test_unexpected_model_signatures_are_rejected(tmp_path):
    three = constant_model(tmp_path / "three.onnx",
                           {"a": np.zeros((K, 48)), "b": np.zeros((K, 64)), "c": np.zeros((K, 4))})
    with pytest.raises(ValueError, match="unexpected model outputs"):
        get_backend("onnx", model=three)
    seventeen = constant_model(tmp_path / "coco17.onnx", {"x": np.zeros((17, 48)), "y": np.zeros((17, 64))})
    backend = get_backend("onnx", model=seventeen, box="frame")
    with pytest.raises(ValueError, match="133"):
        backend.estimate(np.zeros((1, 20, 20, 3), np.uint8))
    open_size = constant_model(tmp_path / "open.onnx", {"x": np.zeros((K, 48)), "y": np.zeros((K, 64))},
                               input_shape=("N", 3, "H", "W"))
    with pytest.raises(ValueError, match="input_size"):
        get_backend("onnx", model=open_size)
    assert get_backend("onnx", model=open_size, input_size=(24, 32)).input_size == (24, 32)
    with pytest.raises(ValueError, match="takes 24x32"):
        get_backend("onnx", model=seventeen, input_size=(48, 64))
    mismatched = constant_model(tmp_path / "ratio.onnx", {"x": np.zeros((K, 48)), "y": np.zeros((K, 50))})
    with pytest.raises(ValueError, match="split ratio"):
        get_backend("onnx", model=mismatched, box="frame").estimate(np.zeros((1, 20, 20, 3), np.uint8))


def test_bad_frames_and_options_are_rejected(tmp_path):
    path = echo_model(tmp_path / "echo.onnx")
    backend = get_backend("onnx", model=path, box="frame")
    with pytest.raises(TypeError, match="uint8"):
        backend.estimate(np.zeros((1, 20, 20, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        backend.estimate(np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="box must be"):
        get_backend("onnx", model=path, box="detector")
    with pytest.raises(ValueError, match="batch_size"):
        get_backend("onnx", model=path, batch_size=0)
    with pytest.raises(ValueError, match="frame 0"):
        get_backend("onnx", model=path, box=lambda i, f: (10, 10, 5, 20)).estimate(np.zeros((1, 20, 20, 3), np.uint8))
    with get_backend("onnx", model=path, box="frame") as backend:
        assert backend.estimate(np.zeros((2, 20, 20, 3), np.uint8)).shape == (2, 68, 3)
    with pytest.raises(RuntimeError, match="closed"):
        backend.estimate(np.zeros((1, 20, 20, 3), np.uint8))


def test_cuda_provider_comes_first_when_available(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_topdown._default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert onnx_topdown._default_providers() == ["CPUExecutionProvider"]


# ---- backend registry --------------------------------------------------------------------------------------

def test_get_backend_names(tmp_path):
    assert BACKENDS == ("onnx", "mediapipe")
    assert isinstance(get_backend("onnx", model=echo_model(tmp_path / "echo.onnx")), PoseBackend)
    with pytest.raises(ValueError, match="pose files in the source folder"):
        get_backend("openpose")
    with pytest.raises(ValueError, match="onnx, mediapipe"):
        get_backend("alphapose")


# ---- MediaPipe ---------------------------------------------------------------------------------------------

def landmarks(rng, count, visibility=False):
    points = [SimpleNamespace(x=float(rng.uniform(-0.1, 1.1)), y=float(rng.uniform(-0.1, 1.1)), z=float(rng.normal()))
              for _ in range(count)]
    for p in points:
        if visibility:
            p.visibility = float(rng.uniform(0, 1))
    return SimpleNamespace(landmark=points)


def fake_results(rng, pose=True, left=True, right=True, face=468):
    return SimpleNamespace(
        pose_landmarks=landmarks(rng, 33, visibility=True) if pose else None,
        left_hand_landmarks=landmarks(rng, 21) if left else None,
        right_hand_landmarks=landmarks(rng, 21) if right else None,
        face_landmarks=landmarks(rng, face) if face else None,
    )


def expected_holistic(results, width, height):
    out = np.zeros((543, 3))
    parts = (("pose_landmarks", 0, 33), ("left_hand_landmarks", 33, 21), ("right_hand_landmarks", 54, 21),
             ("face_landmarks", 75, 468))
    for name, start, count in parts:
        part = getattr(results, name)
        if part is None:
            continue
        for i, p in enumerate(part.landmark[:count]):
            out[start + i] = (p.x * width, p.y * height, p.visibility if start == 0 else 1.0)
    return out


@pytest.mark.parametrize("parts", [dict(), dict(right=False), dict(pose=False, left=False, face=478), dict(face=0)])
def test_holistic_landmarks_become_pixels_with_scores(parts):
    rng = np.random.default_rng(4)
    results = fake_results(rng, **parts)
    got = mediapipe_holistic.holistic_to_array(results, 640, 360)
    assert got.shape == (543, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected_holistic(results, 640, 360), rtol=1e-6, atol=1e-4)


def test_holistic_sides_reach_the_subjects_sides_in_mg68():
    rng = np.random.default_rng(5)
    results = fake_results(rng, right=False)
    mg68 = to_mg68(mediapipe_holistic.holistic_to_array(results, 100, 50), "mediapipe_holistic")
    left_wrist = results.pose_landmarks.landmark[15]
    expected = (left_wrist.x * 100, left_wrist.y * 50, left_wrist.visibility)
    np.testing.assert_allclose(mg68[MG68.index("LWrist")], expected, rtol=1e-5)
    hand0 = results.left_hand_landmarks.landmark[0]
    np.testing.assert_allclose(mg68[MG68.index("LHandWrist")], (hand0.x * 100, hand0.y * 50, 1.0), rtol=1e-5)
    assert (mg68[46:67] == 0).all()  # no right hand
    chin = results.face_landmarks.landmark[152]
    np.testing.assert_allclose(mg68[MG68.index("Chin")], (chin.x * 100, chin.y * 50, 1.0), rtol=1e-5)


def test_too_few_landmarks_are_reported():
    rng = np.random.default_rng(6)
    results = fake_results(rng)
    results.left_hand_landmarks = landmarks(rng, 20)
    with pytest.raises(ValueError, match="20 hand landmarks"):
        mediapipe_holistic.holistic_to_array(results, 10, 10)


class FakeHolistic:
    """Stands in for mediapipe.solutions.holistic.Holistic: results derived from each frame's content."""

    instances: list[FakeHolistic] = []

    def __init__(self, **options):
        self.options, self.frames, self.closed = options, 0, False
        FakeHolistic.instances.append(self)

    def process(self, frame):
        assert frame.dtype == np.uint8 and frame.shape[-1] == 3
        self.frames += 1
        rng = np.random.default_rng(int(frame[0, 0, 0]))
        return fake_results(rng, right=bool(frame[0, 0, 1]))

    def close(self):
        self.closed = True


@pytest.fixture
def fake_mediapipe(monkeypatch, tmp_path):
    """A stand-in mediapipe laid out like the wheel: the solution module and the one shipped pose model."""
    FakeHolistic.instances = []
    package = tmp_path / "site-packages" / "mediapipe"
    models = package / "modules" / "pose_landmark"
    models.mkdir(parents=True)
    (models / "pose_landmark_full.tflite").write_bytes(b"model")
    module = types.ModuleType("mediapipe")
    module.solutions = SimpleNamespace(holistic=SimpleNamespace(
        Holistic=FakeHolistic, __file__=str(package / "python" / "solutions" / "holistic.py")))
    module.models = models
    monkeypatch.setitem(sys.modules, "mediapipe", module)
    return module


def test_mediapipe_backend_runs_a_fresh_tracker_per_call(fake_mediapipe):
    (fake_mediapipe.models / "pose_landmark_heavy.tflite").write_bytes(b"model")  # fetched by hand beforehand
    backend = get_backend("mediapipe", model_complexity=2)
    assert backend.model_path == fake_mediapipe.models / "pose_landmark_heavy.tflite"
    frames = np.zeros((3, 36, 64, 3), np.uint8)
    frames[:, 0, 0, 0] = (11, 12, 13)
    frames[1, 0, 0, 1] = 1
    got = backend.estimate(frames)
    assert got.shape == (3, 68, 3) and got.dtype == np.float32
    for t in range(3):
        results = fake_results(np.random.default_rng(11 + t), right=t == 1)
        expected = to_mg68(expected_holistic(results, 64, 36), "mediapipe_holistic")
        np.testing.assert_allclose(got[t], expected, rtol=1e-5, atol=1e-3)
    backend.estimate(frames[:1])
    assert [(h.frames, h.closed) for h in FakeHolistic.instances] == [(3, True), (1, True)]
    assert FakeHolistic.instances[0].options["model_complexity"] == 2
    assert FakeHolistic.instances[0].options["static_image_mode"] is False


def test_missing_mediapipe_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    with pytest.raises(ImportError, match=r'pip install "mgfast\[pose\]"'):
        get_backend("mediapipe")
    monkeypatch.setitem(sys.modules, "mediapipe", types.ModuleType("mediapipe"))  # a release without solutions
    with pytest.raises(ImportError, match="legacy solutions API"):
        get_backend("mediapipe")


@pytest.mark.parametrize("complexity,model", [(0, "pose_landmark_lite.tflite"), (2, "pose_landmark_heavy.tflite")])
def test_pose_models_the_wheel_lacks_are_refused_not_downloaded(fake_mediapipe, monkeypatch, complexity, model):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("went online"))
    with pytest.raises(FileNotFoundError) as error:
        get_backend("mediapipe", model_complexity=complexity)
    message = str(error.value)
    assert f"model_complexity={complexity}" in message and model in message
    assert "use model_complexity=1" in message and str(fake_mediapipe.models) in message
    assert FakeHolistic.instances == []  # refused before any tracker started
    assert get_backend("mediapipe").model_path == fake_mediapipe.models / "pose_landmark_full.tflite"


def test_missing_shipped_pose_model_asks_for_a_reinstall(fake_mediapipe):
    (fake_mediapipe.models / "pose_landmark_full.tflite").unlink()
    with pytest.raises(FileNotFoundError, match="reinstall"):
        get_backend("mediapipe")


@pytest.mark.parametrize("value", [3, -1, "1", True, 1.5, None])
def test_bad_model_complexity_is_rejected_before_mediapipe_is_imported(monkeypatch, value):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # not installed: the option check must come first
    with pytest.raises(ValueError, match=r"model_complexity must be 0, 1 or 2"):
        get_backend("mediapipe", model_complexity=value)
