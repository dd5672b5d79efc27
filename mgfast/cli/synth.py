"""`mgfast synth`: write a small synthetic micro-gesture corpus in the MiGA layout, or the benchmark corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on, fail

PROFILES = ("demo", "benchmark")
DEMO_ONLY = ("videos", "subjects", "frames_per_video", "segments_per_video", "width", "height", "fps", "classes",
             "imbalance", "pose_format", "test_fraction", "crf", "workers")
"""Options that shape the demo corpus; the benchmark corpus is fixed."""
NOT_UNTRIMMED = ("videos", "segments_per_video", "test_fraction")
"""Demo options that --untrimmed replaces (its count, Poisson gesture counts, every video labelled)."""


def synth_cmd(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Folder to write the corpus into (new or empty)."),
    profile: str = typer.Option("demo", "--profile", help="demo: interview videos in the MiGA layout (the options "
                                "below); benchmark: the benchmark corpus, a pose-only dataset directory "
                                "(docs/benchmark.md; only --seed, --quick, --force and --progress apply)."),
    quick: bool = typer.Option(False, "--quick", help="With --profile benchmark: the tiny corpus of the same structure, "
                               "for CI. With --untrimmed: tiny videos (300 frames at 128x96), for CI."),
    untrimmed: int = typer.Option(0, "--untrimmed", min=0, help="Write this many untrimmed test videos for `mgfast "
                                  "recognize` instead of the corpus: 3-minute interviews (--quick: 300 frames) with "
                                  "gestures at random times among fidgets and rest, every gesture labelled in "
                                  "<id>_label.csv. The subjects are the demo corpus's of the same --seed and "
                                  "--subjects; --classes, --imbalance, --fps, --pose-format, --crf, --workers apply, "
                                  "and --frames-per-video, --width, --height override the size when given."),
    videos: int = typer.Option(12, "--videos", "-n", help="Number of untrimmed interview videos."),
    subjects: int = typer.Option(6, "--subjects", help="Number of subjects (each has their own looks, camera and habits)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed and options give the same corpus."),
    frames_per_video: int = typer.Option(500, "--frames-per-video",
                                         help="Frames in each video (with 10 segments, about 1000 leave room between "
                                              "them for `mgfast extract --background 1`)."),
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

    With --profile benchmark, OUT becomes a dataset directory as `mgfast extract` writes it (meta.json,
    manifest.csv, keypoints/, no crops) for `mgfast train OUT --calib-fraction 0.2` (docs/benchmark.md).

    With --untrimmed N, OUT gets N untrimmed test videos U0001.. in the same layout, every gesture labelled,
    for `mgfast recognize` (no hidden_labels.csv: nothing is held out).
    """
    if profile not in PROFILES:
        raise fail(f"--profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    given = {name for name in DEMO_ONLY if _given(ctx, name)}
    if untrimmed:
        if profile != "demo":
            raise fail("--untrimmed writes videos with the demo corpus's subjects and classes; it does not combine "
                       "with --profile benchmark (a pose-only dataset of trimmed clips)")
        wrong = ["--" + name.replace("_", "-") for name in NOT_UNTRIMMED if name in given]
        if wrong:
            raise fail(f"{', '.join(wrong)} do not apply with --untrimmed (it sets the number of videos, draws the "
                       "gestures per video at random and labels every video)")
        _untrimmed(out, untrimmed, seed=seed, quick=quick, frames=frames_per_video if "frames_per_video" in given else None,
                   width=width if "width" in given else None, height=height if "height" in given else None, fps=fps,
                   subjects=subjects, classes=classes, imbalance=imbalance, pose_format=pose_format, crf=crf,
                   workers=workers, force=force, progress=progress)
        return
    if profile == "benchmark":
        demo_only = ["--" + name.replace("_", "-") for name in DEMO_ONLY if name in given]
        if demo_only:
            raise fail(f"{', '.join(demo_only)} apply to --profile demo only; the benchmark corpus is fixed (docs/benchmark.md)")
        _benchmark(out, seed=seed, quick=quick, force=force, progress=progress)
        return
    if quick:
        raise fail("--quick applies to --profile benchmark and --untrimmed only; make a smaller demo corpus with --videos and --subjects")
    from mgfast.synth import synthesize

    with exit_on(ValueError, FileExistsError, NotADirectoryError):
        summary = synthesize(
            out, videos=videos, subjects=subjects, seed=seed, frames_per_video=frames_per_video,
            segments_per_video=segments_per_video, width=width, height=height, fps=fps, classes=classes,
            imbalance=imbalance, pose_format=pose_format, test_fraction=test_fraction, crf=crf, workers=workers,
            overwrite=force, progress=progress,
        )
    typer.echo(summary.describe())


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _untrimmed(out: Path, n_videos: int, *, seed: int, quick: bool, frames: int | None, width: int | None,
               height: int | None, fps: float, subjects: int, classes: int, imbalance: float, pose_format: str,
               crf: int, workers: int, force: bool, progress: bool) -> None:
    import json
    import time

    from mgfast.synth.corpus import MANIFEST
    from mgfast.synth.untrimmed import write_untrimmed

    began = time.perf_counter()
    with exit_on(ValueError, FileExistsError, NotADirectoryError):
        folders = write_untrimmed(out, n_videos, seed, tiny=quick, frames=frames, width=width, height=height, fps=fps,
                                  subjects=subjects, classes=classes, imbalance=imbalance, pose_format=pose_format,
                                  crf=crf, workers=workers, overwrite=force, progress=progress)
    info = json.loads((out / MANIFEST).read_text())
    size = info["size"]
    typer.echo(f"{len(folders)} untrimmed videos ({size['frames']} frames at {size['width']}x{size['height']}, "
               f"{sum(info['segments'].values())} labelled gestures) written to {out} in "
               f"{time.perf_counter() - began:.1f} s")


def _benchmark(out: Path, *, seed: int, quick: bool, force: bool, progress: bool) -> None:
    import json
    import time

    from mgfast.synth.benchmark import INFO_FILE, corpus_spec, expected_spec, write_benchmark_dataset

    began = time.perf_counter()
    there = out.is_dir() and corpus_spec(out) == expected_spec(seed, quick)
    with exit_on(FileExistsError, NotADirectoryError):
        write_benchmark_dataset(out, seed=seed, quick=quick, progress=progress, overwrite=force)
    info = json.loads((out / INFO_FILE).read_text())
    clips = ", ".join(f"{split} {n}" for split, n in info["clips"].items())
    done = "already there, nothing written" if there else f"written in {time.perf_counter() - began:.1f} s"
    typer.echo(f"benchmark corpus ({info['profile']} profile, seed {info['seed']}) in {out}: {clips} clips "
               f"(calib: the train subjects that `mgfast train --calib-fraction {info['mgfast_train']['calib_fraction']}` "
               f"carves); {done}")
