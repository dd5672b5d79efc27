"""`mgfast synth`: write a small synthetic micro-gesture corpus in the MiGA layout."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on


def synth_cmd(
    out: Path = typer.Argument(..., help="Folder to write the corpus into (new or empty)."),
    videos: int = typer.Option(12, "--videos", "-n", help="Number of untrimmed interview videos."),
    subjects: int = typer.Option(6, "--subjects", help="Number of subjects (each has their own looks, camera and habits)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed and options give the same corpus."),
    frames_per_video: int = typer.Option(500, "--frames-per-video", help="Frames in each video."),
    segments_per_video: int = typer.Option(10, "--segments-per-video", help="Gesture segments in each video."),
    width: int = typer.Option(320, "--width", help="Frame width in pixels (even)."),
    height: int = typer.Option(180, "--height", help="Frame height in pixels (even)."),
    fps: float = typer.Option(25.0, "--fps", help="Frame rate."),
    classes: int = typer.Option(8, "--classes", help="Number of gesture classes (2-12), most frequent first."),
    imbalance: float = typer.Option(6.0, "--imbalance", help="Ratio of the most to the least frequent class (long tail)."),
    pose_format: str = typer.Option("csv", "--pose-format", help="Pose table format: csv or xlsx (as the challenge ships; slower)."),
    test_fraction: float = typer.Option(1 / 3, "--test-fraction", help="Share of subjects held out as unlabelled test videos."),
    crf: int = typer.Option(23, "--crf", help="H.264 quality (0 lossless .. 51 worst)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Videos rendered in parallel (processes)."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier synthetic corpus in OUT."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Write a synthetic corpus: OUT/<id>/<id>.mp4, <id>_openpose.csv|xlsx, <id>_label.csv per video, plus
    OUT/subjects.csv, OUT/classes.csv, OUT/hidden_labels.csv (true classes of the test videos) and OUT/synth.json.

    The test videos are those of held-out subjects; their label files have a blank class column.
    """
    from mgfast.synth import synthesize

    with exit_on(ValueError, FileExistsError, NotADirectoryError):
        summary = synthesize(
            out, videos=videos, subjects=subjects, seed=seed, frames_per_video=frames_per_video,
            segments_per_video=segments_per_video, width=width, height=height, fps=fps, classes=classes,
            imbalance=imbalance, pose_format=pose_format, test_fraction=test_fraction, crf=crf, workers=workers,
            overwrite=force, progress=progress,
        )
    typer.echo(summary.describe())
