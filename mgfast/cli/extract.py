"""`mgfast extract` (videos -> dataset directory) and `mgfast export` (dataset -> PYSKL pickle)."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on, fail
from mgfast.cli.workspace import DATASET, announce


def extract_cmd(
    src: Path = typer.Argument(..., help="Source folder: MiGA layout <id>/<id>.mp4 + pose + labels, videos + annotations.csv, or OpenPose JSON."),
    out: Path = typer.Option(None, "--out", "-o", show_default=str(DATASET),
                             help="Dataset directory to write (resumable: rerun the same command)."),
    pose: str = typer.Option("auto", help="Keypoints: auto (pose file, else a backend), openpose (pose files only), mediapipe, onnx."),
    pose_model: Path = typer.Option(None, "--pose-model", help="ONNX model for --pose onnx (COCO-WholeBody top-down)."),
    crop_size: int = typer.Option(224, "--crop-size", help="Side of the square RGB crops, in pixels."),
    no_crops: bool = typer.Option(False, "--no-crops", help="Keypoints and saliency boxes only (videos are only probed for their size)."),
    crop_format: str = typer.Option("h264", "--crop-format", help="h264 (falls back to mp4v, then npy), mp4v, or npy (exact uint8)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Videos extracted in parallel (processes)."),
    shard: str = typer.Option(None, "--shard", help="Extract only shard i of n (1-based, e.g. 2/4); then run once without --shard to merge."),
    device: str = typer.Option("auto", "--device", help="Where crops are computed: auto, cpu or cuda."),
    background: float = typer.Option(None, "--background", metavar="RATIO",
                                     help="Also cut about RATIO background ('no gesture') windows per annotated segment "
                                          "from the unannotated spans of labelled videos (deterministic per video)."),
    background_gap: int = typer.Option(None, "--background-gap", metavar="FRAMES",
                                       help="Least distance of a background window from any annotated segment "
                                            "(default 8)."),
    background_length: int = typer.Option(None, "--background-length", metavar="FRAMES",
                                          help="Length of every background window (default: the length of one of "
                                               "the video's segments, drawn at random)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo every clip, also to change the parameters of an existing dataset (not on the run that merges shards)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Extract keypoints (mg68), saliency boxes and RGB crops for every annotated segment of every video.

    Writes OUT/meta.json, OUT/manifest.csv, OUT/keypoints/<clip>.npy and OUT/crops/<clip>.mp4. Labelled
    segments become train clips, unlabelled ones (test label files) test clips. With --background, labelled
    videos also get background clips (manifest kind 'background', ids <video>_bg<k>) that `mgfast train
    --background-class` learns as a "no gesture" class; give every shard and the merge the same --background
    options. A rerun skips finished clips;
    a video that cannot be read is reported and skipped, and the command then exits with status 1.

    Sharding: run `--shard 1/4` ... `--shard 4/4` (at once, on one machine or several sharing OUT), each
    writing OUT/manifest.shard-i-of-4.csv, then the same command without --shard: it skips every finished
    video and writes OUT/manifest.csv for the whole source.
    """
    from mgfast.extract import extract
    from mgfast.extract.options import BackgroundOptions, parse_shard

    if out is None:
        out = DATASET
        announce(src, out)
    with exit_on(ValueError, OSError):  # bad source, options or output directory
        if background is None and (background_gap is not None or background_length is not None):
            raise ValueError("--background-gap and --background-length shape background windows: add --background RATIO")
        gap = {} if background_gap is None else {"gap": background_gap}
        windows = None if background is None else BackgroundOptions(background, length=background_length, **gap)
        summary = extract(
            src, out, crop_size=crop_size, crops=not no_crops, crop_format=crop_format, pose=pose, pose_model=pose_model,
            device=device, workers=workers, shard=parse_shard(shard) if shard is not None else None, overwrite=overwrite,
            progress=progress, background=windows,
        )
    typer.echo(str(summary))
    if not summary.ok:
        typer.secho(f"{summary.videos_failed} video(s) failed; fix them and rerun (finished clips are kept)", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if shard is not None:
        typer.echo("when every shard is done, run this command again without --shard: it merges them into manifest.csv")


def export_cmd(
    dataset: Path = typer.Argument(..., help="Dataset directory written by `mgfast extract`."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write, e.g. miga.pkl."),
    format: str = typer.Option("pyskl", "--format", help="pyskl: the PYSKL / mmaction2 skeleton pickle."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Export a dataset's keypoints for other toolkits.

    pyskl: {'split': {'train', 'val', 'test'}, 'annotations': [{frame_dir, label, img_shape, original_shape,
    total_frames, keypoint [1,T,V,2], keypoint_score [1,T,V]}]}; unlabelled clips get label -1 and
    undetected points are written as (0, 0) with score 0.
    """
    from mgfast.io.pyskl import write_pyskl

    if format != "pyskl":
        raise fail(f"unknown export format {format!r}; supported: pyskl")
    with exit_on(ValueError, OSError):
        path = write_pyskl(dataset, out, progress=progress)
    typer.echo(f"wrote {path}")
