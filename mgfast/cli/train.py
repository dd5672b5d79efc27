"""`mgfast train` and `mgfast predict`: train a branch on a dataset directory, score splits with a run."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from mgfast.branches import NAMES
from mgfast.cli.errors import exit_on
from mgfast.cli.workspace import DATASET, RUN_HELP, announce, branch_run
from mgfast.runs import RUN_FILE

MODALITY_HELP = f"Branch to train: {', '.join(NAMES)}."


def train_cmd(
    dataset: Path = typer.Argument(None, show_default=str(DATASET),
                                   help="Dataset directory written by `mgfast extract`."),
    modality: str = typer.Option(..., "--modality", "-m", help=MODALITY_HELP),
    out: Path = typer.Option(None, "--out", "-o", show_default=RUN_HELP,
                             help="Run directory to create (or to continue with --resume)."),
    preset: str = typer.Option("default", help="Recipe: 'default' (the published one) or 'tiny' (CPU demo)."),
    config: Path = typer.Option(None, "--config", help="TOML or JSON file of options (the preset's keys)."),
    epochs: int = typer.Option(None, help="Training epochs."),
    batch_size: int = typer.Option(None, help="Clips per batch per process (GPU)."),
    lr: float = typer.Option(None, help="Learning rate for a global batch of --lr-batch clips (scaled linearly)."),
    lr_batch: int = typer.Option(None, help="Global batch size that --lr refers to."),
    clip_len: int = typer.Option(None, help="Frames sampled per clip."),
    heatmap_mode: str = typer.Option(None, help="Heatmap channels: joints, limbs or both."),
    class_weights: str = typer.Option(None, help="Class weighting: sqrt, inverse or none."),
    ose_weight: float = typer.Option(None, help="Weight of the orthogonal semantic embedding loss (default 0.1; 0 disables)."),
    label_smoothing: float = typer.Option(None, help="Label smoothing of the cross-entropy."),
    val_fraction: float = typer.Option(None, help="Fraction of training clips carved out for validation when the "
                                                  "dataset has no val split (0: none)."),
    calib_fraction: float = typer.Option(None, help="Fraction of training clips carved out (by subject, after "
                                                    "validation) as the calibration split that `mgfast fuse` fits "
                                                    "temperatures on (default 0.15; 0: none)."),
    split_by: str = typer.Option(None, help="Carve validation by 'subject' or 'video'."),
    split_seed: int = typer.Option(None, help="Seed of the validation carving (keep it equal across modalities)."),
    background_class: bool = typer.Option(None, "--background-class/--no-background-class",
                                          help="Learn a 'no gesture' class (the last one, code 0) from the dataset's "
                                               "background clips (`mgfast extract --background`); off by default, "
                                               "when background clips are ignored."),
    seed: int = typer.Option(None, help="Seed of initialisation, data order and augmentation."),
    workers: int = typer.Option(None, help="Data-loader worker processes per training process."),
    amp: bool = typer.Option(None, "--amp/--no-amp", help="Mixed precision on CUDA."),
    device: str = typer.Option(None, help="auto, cpu, cuda or cuda:N."),
    pretrained: Path = typer.Option(None, help="Model weights to start from (e.g. torchvision Kinetics weights "
                                               "for rgb), all but the classifier."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    init_from: Path = typer.Option(None, "--init-from", help="Start from another run's checkpoint (fine-tuning)."),
    pseudo_labels: Path = typer.Option(None, help="CSV clip_id,label[,weight] of pseudo-labelled test clips to add."),
    pseudo_weight: float = typer.Option(None, help="Multiplies the pseudo-label weights."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train one branch. Writes OUT/checkpoints/{best,last}.pt, metrics.jsonl, curves.png and
    OUT/logits/{train,val,test}.npz (from the best checkpoint).

    Several GPUs or machines: launch the same command with torchrun, e.g.
    `torchrun --nproc_per_node=8 --no-python mgfast train --modality heatmap`.
    """
    from mgfast.train import OutOfMemory, make_config, train

    if dataset is None or out is None:
        dataset = DATASET if dataset is None else dataset
        out = branch_run(modality) if out is None else out
        announce(dataset, out)

    overrides = dict(
        epochs=epochs, batch_size=batch_size, lr=lr, lr_batch=lr_batch, clip_len=clip_len, heatmap_mode=heatmap_mode,
        class_weights=class_weights, ose_weight=ose_weight, label_smoothing=label_smoothing, val_fraction=val_fraction,
        calib_fraction=calib_fraction, split_by=split_by, split_seed=split_seed, background_class=background_class,
        seed=seed, workers=workers, amp=amp,
        device=device, resume=resume or None, init_from=None if init_from is None else str(init_from.resolve()),
        pseudo_labels=None if pseudo_labels is None else str(pseudo_labels.resolve()), pseudo_weight=pseudo_weight,
        progress=progress, model=None if pretrained is None else {"weights": str(pretrained.resolve())},
    )
    with exit_on(ValueError, FileNotFoundError, TypeError), exit_on(OutOfMemory, code=1):
        if resume and not (Path(out) / RUN_FILE).is_file():
            raise FileNotFoundError(f"--resume: {out} holds no run to continue (no {RUN_FILE}); drop --resume to "
                                    "start a new run there")
        run_config = make_config(dataset, modality, out, preset=preset, config_file=config, **overrides)
        run_dir = train(run_config)
    if os.environ.get("RANK", "0") == "0":  # under torchrun every process gets here; one line is enough
        typer.echo(f"run: {run_dir} (logits in {run_dir / 'logits'})")


def predict_cmd(
    run: Path = typer.Argument(..., help="Run directory written by `mgfast train`."),
    split: str = typer.Option("test", help="Split to score: train, val, calib or test."),
    checkpoint: str = typer.Option("best", help="best, last, or a checkpoint file."),
    dataset: Path = typer.Option(None, help="Dataset directory, if it moved since training."),
    batch_size: int = typer.Option(None, help="Clips per batch per process."),
    workers: int = typer.Option(None, help="Data-loader worker processes."),
    device: str = typer.Option(None, help="auto, cpu, cuda or cuda:N."),
) -> None:
    """Score a split with a trained run: writes RUN/logits/<split>.npz (logits averaged over the
    run's test-time clips and flips)."""
    from mgfast.train import OutOfMemory, predict

    with exit_on(ValueError, FileNotFoundError), exit_on(OutOfMemory, code=1):
        path = predict(run, split, checkpoint, dataset=dataset, batch_size=batch_size, workers=workers, device=device)
    if os.environ.get("RANK", "0") == "0":
        typer.echo(f"wrote {path}")
