"""The training loop: ``train(config) -> run directory``.

Per epoch: one pass over the training clips (mixed precision on CUDA, gradient clipping, per-iteration
learning-rate schedule), then validation (accuracy = micro-F1, macro-F1), ``metrics.jsonl`` and
``curves.png``, ``checkpoints/last.pt`` and, when validation improves, ``checkpoints/best.pt``. "Best" is
the highest ``select_metric`` (default accuracy, the challenge's micro-F1), ties broken by the other metric
and then by the earlier epoch; without a validation split it is the last epoch. At the end the best
checkpoint scores every split with test-time augmentation and writes ``logits/<split>.npz``.

Resuming (``resume=True``) restarts from ``last.pt`` at the epoch boundary with the model, optimizer,
scheduler, loss scaler, random-generator states and metric history; data order and augmentation are
functions of (seed, epoch, sample), so the run continues exactly as if never interrupted.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from mgfast.data import ClipDataset, make_loader, read_pseudo_labels, set_epoch
from mgfast.data.splits import SPLIT_NAMES, Sample, Splits
from mgfast.io.dataset import MANIFEST_FILE, Dataset, layout_to_dict
from mgfast.losses import OSELoss, class_weights
from mgfast.metrics import accuracy, macro_f1
from mgfast.runs import RUN_FILE, checkpoint_path, write_metrics, write_run_file
from mgfast.train import checkpoint as ckpt
from mgfast.train import distributed
from mgfast.train.curves import plot_curves
from mgfast.train.batchnorm import recompute_batchnorm_statistics
from mgfast.train.config import TrainConfig, config_splits, open_dataset
from mgfast.train.engine import (Objective, OutOfMemory, amp_enabled, autocast, build_network, inference_loader,
                                    infer, input_dtype, make_input, oom_message)
from mgfast.train.optim import build_optimizer, build_scheduler, scaled_lr
from mgfast.train.predict import write_split_logits

PROGRESS_EVERY = 10  # steps between progress-bar updates (each reads the running loss back from the device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_samples(config: TrainConfig, dataset: Dataset, splits: Splits) -> list[Sample]:
    samples = [Sample(c, c.label) for c in splits.train]
    if config.pseudo_labels:
        samples += read_pseudo_labels(config.pseudo_labels, dataset, splits, weight_scale=config.pseudo_weight)
    return samples


def check_splits(dataset: Dataset, splits: Splits) -> None:
    if not splits.train:
        raise ValueError(f"{dataset.root / MANIFEST_FILE} has no labelled training clips; extract labelled videos "
                         "(`mgfast extract`) or point to another dataset")


def _prepare_run_dir(config: TrainConfig, dataset: Dataset, context: distributed.Context) -> Path:
    """Creates the run directory (rank 0), or checks that a resumed run was started with the same settings."""
    run_dir = Path(config.out)
    run_file = run_dir / RUN_FILE
    if run_file.is_file():
        if not config.resume:
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
        started = TrainConfig.from_dict(json.loads(run_file.read_text())["config"], str(run_file))
        differ = sorted(k for k, v in config.result_keys().items() if started.result_keys()[k] != v)
        if differ:
            shown = ", ".join(f"{k}={getattr(started, k)!r}" for k in differ)
            raise ValueError(f"{run_file}: the run was started with {shown}; resume with the same settings "
                             "(repeat the original command with --resume) or choose another --out")
    distributed.barrier(context)  # every rank has checked before rank 0 writes the file the check reads
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_file(run_dir, modality=config.modality, dataset=dataset, config=config.to_dict())
    distributed.barrier(context)
    return run_dir


def train(config: TrainConfig) -> Path:
    """Trains one branch as ``config`` says; returns the run directory.

    Raises ValueError / FileNotFoundError for bad input (each naming the file and the fix) and
    :class:`OutOfMemory` when CUDA runs out of memory.
    """
    config.validate()
    context = distributed.setup(config.device)
    try:
        return _train(config, context)
    except torch.cuda.OutOfMemoryError as error:
        raise OutOfMemory(oom_message(config, config.batch_size)) from error
    finally:
        distributed.teardown(context)


def _train(config: TrainConfig, context: distributed.Context) -> Path:
    dataset = open_dataset(config)
    splits = config_splits(dataset, config)
    check_splits(dataset, splits)
    samples = training_samples(config, dataset, splits)
    classes = [asdict(c) for c in dataset.classes]
    num_classes = dataset.num_classes
    initial = None
    if config.init_from:
        initial = ckpt.load_checkpoint(config.init_from)
        ckpt.check_compatible(initial, Path(config.init_from), modality=config.modality, layout=dataset.layout,
                              classes=classes, dataset=dataset.root)
    run_dir = _prepare_run_dir(config, dataset, context)

    seed_everything(config.seed)
    if context.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest 3D convolutions
    clip_input = make_input(config, dataset.layout)
    model = build_network(config, dataset.layout, num_classes, clip_input, pretrained=initial is None)
    if initial is not None:
        model.load_state_dict(initial["model"])
    counts = np.bincount([s.label for s in samples], minlength=num_classes)
    ose = OSELoss(model.feature_dim, num_classes, seed=config.seed) if config.ose_weight > 0 else None
    ose_origin = _initial_ose(ose, initial, Path(config.init_from)) if initial is not None else None
    objective = Objective(model, class_weights(counts, config.class_weights), config.label_smoothing, ose,
                          config.ose_weight).to(context.device)
    trained = (DistributedDataParallel(objective, device_ids=[context.device] if context.device.type == "cuda" else None)
               if context.distributed else objective)

    train_data = ClipDataset(dataset, samples, clip_input, train=True, seed=config.seed)
    pin = context.device.type == "cuda"
    train_loader = make_loader(train_data, batch_size=config.batch_size, workers=config.workers, rank=context.rank,
                               world_size=context.world_size, seed=config.seed, pin_memory=pin)
    eval_batch = config.eval_batch_size or config.batch_size
    val_samples = [Sample(c, c.label) for c in splits.val]
    val_loader = (inference_loader(dataset, val_samples, clip_input, num_clips=config.val_num_clips,
                                   batch_size=eval_batch, workers=config.workers, context=context)
                  if val_samples else None)

    steps_per_epoch = len(train_loader)
    lr = scaled_lr(config, context.world_size)
    optimizer = build_optimizer(objective, config, lr)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    amp = amp_enabled(config, context.device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    start_epoch, history, best = 0, [], None
    last_path = checkpoint_path(run_dir, "last")
    if config.resume and last_path.is_file():
        state = ckpt.load_checkpoint(last_path)
        ckpt.check_compatible(state, last_path, modality=config.modality, layout=dataset.layout, classes=classes,
                              dataset=dataset.root)
        model.load_state_dict(state["model"])
        if ose is not None:
            ose.load_state_dict(state["ose"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, history = state["epoch"], list(state["history"])
        best = tuple(state["best"]) if state["best"] is not None else None
        ckpt.set_rng_state(state["rng"])

    def snapshot(epoch: int) -> dict:
        return {"modality": config.modality, "layout": layout_to_dict(dataset.layout), "classes": classes,
                "config": config.to_dict(), "model": model.state_dict(),
                "ose": None if ose is None else ose.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "epoch": epoch, "history": history,
                "best": None if best is None else list(best), "rng": ckpt.rng_state()}

    if context.is_main:
        kind = f"{context.world_size} processes" if context.distributed else "1 process"
        tqdm.write(f"{config.modality}: {len(samples)} training clips ({len(samples) - len(splits.train)} pseudo-labelled), "
                   f"{len(splits.val)} validation, {len(splits.calib)} calibration, {len(splits.test)} test; "
                   f"{kind} on {context.device}, "
                   f"global batch {config.batch_size * context.world_size}, peak lr {lr:.4g}, "
                   f"mixed precision {'on' if amp else 'off'}")
        if initial is not None:
            origin = f"; {ose_origin}" if ose_origin else ""
            tqdm.write(f"{config.modality}: fine-tuning from {config.init_from}{origin}")

    for epoch in range(start_epoch, config.epochs):
        row = _train_epoch(epoch, config, context, trained, objective, clip_input, train_loader, optimizer, scheduler,
                           scaler, amp)
        _precise_batchnorm(model, clip_input, train_loader, config, context, amp)
        if val_loader is not None:
            logits = infer(model, val_loader, clip_input, len(val_samples), num_classes, amp=amp, context=context)
            row.update(validation_scores(logits, np.array([s.label for s in val_samples]), num_classes))
            score = _selection_score(row, config.select_metric)
        else:
            score = (float(epoch),) * 2  # no validation: the latest epoch is the best
        row["best"] = improved = best is None or score > best
        if improved:
            best = score
        history.append(row)
        if context.is_main:
            write_metrics(run_dir, history)
            plot_curves(run_dir, history)
            state = snapshot(epoch + 1)
            if improved:
                ckpt.save_checkpoint(checkpoint_path(run_dir, "best"), state)
            ckpt.save_checkpoint(last_path, state)
            tqdm.write(_epoch_line(row, config.epochs))
        distributed.barrier(context)

    best_path = checkpoint_path(run_dir, "best")
    state = ckpt.load_checkpoint(best_path)
    model.load_state_dict(state["model"])
    for split in SPLIT_NAMES:
        clips = splits.get(split)
        if clips:
            write_split_logits(run_dir, split, clips, model, clip_input, config, dataset, context)
    return run_dir


def _initial_ose(ose: OSELoss | None, initial: dict, path: Path) -> str | None:
    """Loads the source checkpoint's OSE projection into ``ose`` (a fine-tune continues the source's embedding: a
    fresh random projection would pull the trained features towards random directions); returns what the run
    log says about it, None when the fine-tune has no OSE loss."""
    if ose is None:
        return None
    if initial.get("ose") is None:
        return "the source was trained without the OSE loss: its projection starts fresh"
    try:
        ose.load_state_dict(initial["ose"])
    except RuntimeError as error:
        raise ValueError(f"{path}: its OSE projection does not fit this run's ({error}); fine-tune with the "
                         "source's settings or start a new run without --init-from") from None
    return "OSE projection loaded from the source"


def _train_epoch(epoch: int, config: TrainConfig, context: distributed.Context, trained: torch.nn.Module,
                 objective: Objective, clip_input, loader, optimizer, scheduler, scaler, amp: bool) -> dict:
    """One pass over the training clips; returns the epoch's metrics row (summed over ranks)."""
    set_epoch(loader, epoch)
    trained.train()
    dtype = input_dtype(amp)
    steps = len(loader)
    totals = torch.zeros(3, dtype=torch.float64, device=context.device)  # loss * clips, correct, clips
    started = time.perf_counter()
    bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
               disable=not (config.progress and context.is_main), leave=False)
    for batch in loader:
        x = clip_input.train_batch(batch, context.device, dtype)
        target = batch["label"].to(context.device, non_blocking=True)
        weight = batch["weight"].to(context.device, non_blocking=True)
        with autocast(amp, context.device):
            loss, logits = trained(x, target, weight)
        scaler.scale(loss).backward()
        if config.clip_grad > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(objective.parameters(), config.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        # Accumulated on the device: reading a value back would stall the GPU every step.
        n = len(target)
        totals += torch.stack([loss.detach().double() * n, (logits.argmax(1) == target).sum().double(),
                               torch.tensor(float(n), dtype=torch.float64, device=context.device)])
        bar.update(1)
        if bar.n % PROGRESS_EVERY == 0 or bar.n == steps:
            seen = totals.tolist()
            bar.set_postfix(loss=f"{seen[0] / seen[2]:.3f}",
                            clips_per_s=f"{seen[2] * context.world_size / (time.perf_counter() - started):.1f}")
    bar.close()
    loss_sum, correct, clips = distributed.all_reduce_sum(context, totals).tolist()
    seconds = time.perf_counter() - started
    return {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"], "train_loss": loss_sum / clips,
            "train_accuracy": correct / clips, "clips_per_s": clips / seconds, "epoch_s": seconds}


def _precise_batchnorm(model: torch.nn.Module, clip_input, loader, config: TrainConfig,
                       context: distributed.Context, amp: bool) -> None:
    """Batch-norm statistics of the weights as they are now, from this epoch's first training batches (the
    same clips and augmentation as training: the loader's randomness is a function of seed, epoch and clip)."""
    if config.precise_bn_batches == 0:
        return
    dtype = input_dtype(amp)
    inputs = (clip_input.train_batch(batch, context.device, dtype)
              for _, batch in zip(range(config.precise_bn_batches), loader))
    recompute_batchnorm_statistics(model, inputs, context, autocast=lambda: autocast(amp, context.device))


def validation_scores(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy (= micro-F1 for single-label clips), macro-F1 and mean cross-entropy of validation logits."""
    predicted = logits.argmax(1)
    z = logits.astype(np.float64)
    log_p = z - z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return {"val_loss": float(-log_p[np.arange(len(labels)), labels].mean()),
            "val_accuracy": accuracy(labels, predicted), "val_macro_f1": macro_f1(labels, predicted, num_classes)}


def _selection_score(row: dict, metric: str) -> tuple[float, float]:
    other = "macro_f1" if metric == "accuracy" else "accuracy"
    return row[f"val_{metric}"], row[f"val_{other}"]


def _epoch_line(row: dict, epochs: int) -> str:
    text = (f"epoch {row['epoch']}/{epochs}  loss {row['train_loss']:.4f}  train acc {row['train_accuracy']:.3f}  "
            f"{row['clips_per_s']:.1f} clips/s")
    if "val_accuracy" in row:
        text += f"  val loss {row['val_loss']:.4f}  val acc {row['val_accuracy']:.3f}  val macro-F1 {row['val_macro_f1']:.3f}"
    if row["best"]:
        text += "  (best)"
    if not math.isfinite(row["train_loss"]):
        text += "  -- the loss diverged: lower --lr"
    return text
