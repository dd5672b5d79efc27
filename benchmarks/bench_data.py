"""Heatmap-branch input throughput, and the training step time of each branch at its default size.

    python benchmarks/bench_data.py [--clips 64] [--batch-size 8] [--workers 2] [--device auto]
                                    [--step-batch 2] [--skip-steps]

Input throughput: clips per second delivered to the model (``[B, 68, 48, 56, 56]`` float32 volumes on the
training device, PoseC3D's training pipeline) by two pipelines over the same dataset directory, in the
same run:

- **mgfast**: data-loader workers sample frames and augment keypoints; the batch's volume is rendered on
  the training device by ``mgfast.ops.render_heatmaps``.
- **PoseC3D-style**: the workers do the same keypoint work, then render each clip's volume on the CPU with
  a NumPy renderer written as PoseC3D's ``GeneratePoseTarget`` (a Gaussian patch per joint per frame,
  combined by maximum), and the volumes are collated and copied to the device.

Training step: forward, backward and optimizer step of each branch's default network and input size
(heatmap SlowOnly-R50 on 48 x 56 x 56, joint DSTA-Net on 64 frames, RGB Video Swin-T on 16 x 224 x 224) at
``--step-batch`` clips, on the CPU (and on the device too when it is a GPU).

The dataset is a temporary directory of random-walk keypoints (frame 1280 x 720, 48-100 frames per clip).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mgfast import data
from mgfast.data.heatmap import HeatmapInput
from mgfast.io.atomic import atomic_save_npy
from mgfast.io.dataset import ClassInfo, Clip, Dataset, write_manifest, write_meta
from mgfast.layout import MG68
from mgfast.branches import build_model
from mgfast.train import make_config


def make_keypoint_dataset(root: Path, clips: int, seed: int = 0) -> Dataset:
    """Random-walk mg68 keypoints in a 1280 x 720 frame; no crops (the heatmap branch does not read them)."""
    rng = np.random.default_rng(seed)
    write_meta(root, layout=MG68, classes=[ClassInfo(i, i + 1, f"c{i}") for i in range(32)], params={})
    rows = []
    for k in range(clips):
        t = int(rng.integers(48, 101))
        base = np.stack([rng.uniform(450, 830, 68), rng.uniform(150, 650, 68)], -1)
        xy = base + np.cumsum(rng.normal(0, 1.5, (t, 68, 2)), 0)
        kp = np.concatenate([xy, rng.uniform(0.3, 1.0, (t, 68, 1))], -1).astype(np.float32)
        clip_id = f"v{k:04d}_1"
        atomic_save_npy(root / "keypoints" / f"{clip_id}.npy", kp)
        rows.append(Clip(clip_id, f"v{k:04d}", f"s{k % 8}", 0, t - 1, k % 32, "train", t, 25.0, 1280, 720,
                         (400.0, 100.0, 880.0, 700.0), f"keypoints/{clip_id}.npy", None))
    write_manifest(root / "manifest.csv", rows)
    return Dataset(root)


def posec3d_volume(keypoints: np.ndarray, size: int, sigma: float = 0.6, eps: float = 1e-3) -> np.ndarray:
    """PoseC3D's ``GeneratePoseTarget`` for one person, joints only: ``[T, V, 3]`` -> float32 ``[V, T, H, W]``."""
    t, v, _ = keypoints.shape
    out = np.zeros((v, t, size, size), np.float32)
    for f in range(t):
        for j in range(v):
            x, y, score = keypoints[f, j]
            if not score >= eps or not (np.isfinite(x) and np.isfinite(y)):
                continue
            x0, x1 = max(int(x - 3 * sigma), 0), min(int(x + 3 * sigma) + 1, size)
            y0, y1 = max(int(y - 3 * sigma), 0), min(int(y + 3 * sigma) + 1, size)
            if x0 >= x1 or y0 >= y1:
                continue
            xs = np.arange(x0, x1, dtype=np.float32)
            ys = np.arange(y0, y1, dtype=np.float32)[:, None]
            patch = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 2 / sigma**2) * score
            np.maximum(out[j, f, y0:y1, x0:x1], patch, out=out[j, f, y0:y1, x0:x1])
    return out


class CPURendered(HeatmapInput):
    """The same sampling and keypoint augmentation, then the volume rendered on the CPU in the worker."""

    def load(self, dataset, clip, *, train, num_clips, rng):
        item = super().load(dataset, clip, train=train, num_clips=num_clips, rng=rng)
        return {"volume": posec3d_volume(item["keypoints"], self.train_size, self.sigma)}

    def train_batch(self, batch, device, dtype):
        return batch["volume"].to(device, dtype, non_blocking=True)


def throughput(dataset: Dataset, clip_input: HeatmapInput, *, batch_size: int, workers: int,
               device: torch.device) -> tuple[float, tuple[int, ...]]:
    """Clips per second delivered to the model, after one warm-up batch."""
    samples = [data.Sample(c, c.label) for c in dataset.clips]
    loader = data.make_loader(data.ClipDataset(dataset, samples, clip_input, train=True), batch_size=batch_size,
                              workers=workers, pin_memory=device.type == "cuda")
    batches = iter(loader)
    x = clip_input.train_batch(next(batches), device, torch.float32)  # warm-up: workers started, op dispatch ready
    start, clips = time.perf_counter(), 0
    for batch in batches:
        x = clip_input.train_batch(batch, device, torch.float32)
        clips += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clips / (time.perf_counter() - start), tuple(x.shape)


def step_seconds(modality: str, batch: int, device: torch.device, repeats: int = 2) -> tuple[float, tuple[int, ...]]:
    """Seconds per training step (forward, backward, SGD step) of the default network and input size."""
    cfg = make_config(".", modality, "unused")
    options = dict(cfg.model)
    if modality == "heatmap":
        options["in_channels"] = MG68.num_joints
        shape = (batch, MG68.num_joints, cfg.clip_len, cfg.train_size, cfg.train_size)
    elif modality == "joint":
        shape = (batch, cfg.clip_len, MG68.num_joints, 3)
    else:
        shape = (batch, 3, cfg.clip_len, cfg.train_size, cfg.train_size)
    model = build_model(modality, layout=MG68, num_classes=32, **options).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(shape, device=device)
    target = torch.randint(0, 32, (batch,), device=device)
    times = []
    for _ in range(repeats + 1):  # the first step warms up
        start = time.perf_counter()
        logits, _ = model(x)
        torch.nn.functional.cross_entropy(logits, target).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:])), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=64, help="clips in the temporary dataset")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="data-loader worker processes")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    parser.add_argument("--step-batch", type=int, default=2, help="clips per training step in the step timings")
    parser.add_argument("--skip-steps", action="store_true", help="only measure input throughput")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"mgfast bench_data: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device} ({name}), "
          f"{args.clips} clips, batch {args.batch_size}, {args.workers} workers")
    cfg = make_config(".", "heatmap", "unused")
    options = dict(clip_len=cfg.clip_len, train_size=cfg.train_size, test_size=cfg.test_size,
                   area_range=cfg.area_range, sigma=cfg.input["sigma"])
    with tempfile.TemporaryDirectory() as tmp:
        dataset = make_keypoint_dataset(Path(tmp) / "ds", args.clips)
        rows = []
        for label, clip_input in (("mgfast: keypoints -> render on " + device.type, HeatmapInput(MG68, **options)),
                                  ("PoseC3D-style: render in CPU workers", CPURendered(MG68, **options))):
            rate, shape = throughput(dataset, clip_input, batch_size=args.batch_size, workers=args.workers, device=device)
            rows.append((label, rate, shape))
    print(f"\n  {'heatmap input pipeline':<42} {'clips/s':>9}  batch delivered")
    for label, rate, shape in rows:
        print(f"  {label:<42} {rate:>9.1f}  {list(shape)}")
    print(f"  speed-up: {rows[0][1] / rows[1][1]:.1f}x")

    if args.skip_steps:
        return
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    print(f"\n  {'training step, default size':<28} {'device':>6} {'s/step':>8} {'clips/s':>8}  input")
    for modality in ("heatmap", "joint", "rgb"):
        for dev in devices:
            seconds, shape = step_seconds(modality, args.step_batch, dev)
            print(f"  {modality:<28} {dev.type:>6} {seconds:>8.3f} {args.step_batch / seconds:>8.2f}  {list(shape)}")


if __name__ == "__main__":
    main()
