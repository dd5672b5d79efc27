"""``mgfast recognize``: gesture segments (start, end, class) in untrimmed videos, offline or online."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on

POSE_HELP = ("Where keypoints come from: auto (the video's pose file, else an estimator), openpose (the pose "
             "file only), mediapipe or onnx (with --pose-model).")


def _thresholds(text: str) -> float | tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected a number or comma-separated numbers (one per class), got {text!r}") from None
    return values[0] if len(values) == 1 else values


def recognize_cmd(
    src: str = typer.Argument(..., metavar="VIDEO_OR_FOLDER",
                              help="A video, a folder of videos or a MiGA-layout folder (<id>/<id>.mp4); with "
                                   "--online also a camera index or stream URL."),
    runs: list[Path] = typer.Option(..., "--runs", help="Trained run directories (repeat for several branches)."),
    out: Path = typer.Option(Path("recognized"), "--out", help="Output folder: one subfolder per video."),
    fusion: Path = typer.Option(None, "--fusion", help="`mgfast fuse`'s output folder: its temperatures and "
                                                        "weights fuse the runs (default: uniform, T = 1)."),
    window: int = typer.Option(None, "--window", help="Window length in frames (default: the training "
                                                      "segments' median length, else the branch's clip length)."),
    stride: int = typer.Option(None, "--stride", help="Frames between windows (default: a quarter of --window)."),
    smooth: int = typer.Option(9, "--smooth", help="Moving-average window over frames before decoding (odd)."),
    threshold: str = typer.Option("0.5", "--threshold", help="Probability a gesture class must exceed: one "
                                                             "number, or one per class separated by commas."),
    min_length: int = typer.Option(8, "--min-length", help="Shortest segment kept, in frames."),
    merge_gap: int = typer.Option(4, "--merge-gap", help="Same-class segments closer than this many frames join."),
    nms_iou: float = typer.Option(0.5, "--nms-iou", help="Temporal NMS across classes: overlap (IoU) above which "
                                                         "the lower-scoring segment is dropped."),
    pose: str = typer.Option("auto", "--pose", help=POSE_HELP),
    pose_model: Path = typer.Option(None, "--pose-model", help="ONNX pose model for --pose onnx."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    engine: str = typer.Option("torch", "--engine", help="torch (the checkpoint's network) or onnx (each run exported once to OUT/engines/ and run with "
                               "ONNX Runtime: the CPU, or its CUDA provider with mgfast[gpu] and --device cuda)."),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best, last or a checkpoint path."),
    batch_size: int = typer.Option(32, "--batch-size", help="Windows scored per forward pass (for rgb runs also cropped together, their frames decoded once)."),
    single_view: bool = typer.Option(False, "--single-view",
                                     help="Score one sampling per window without the flipped copy, instead of "
                                          "the run's test-time views (num_clips x 2): that many times faster, "
                                          "scores no longer equal to `mgfast predict`'s."),
    evaluate: bool = typer.Option(False, "--eval", help="Score against the videos' label files: segment "
                                                        "P/R/F1 at IoU 0.5 (and 0.1-0.7) and frame-level F1."),
    render: bool = typer.Option(False, "--render", help="Also write render.mp4: skeleton and current label."),
    online: bool = typer.Option(False, "--online", help="Consume frames as they arrive (a file at its frame "
                                                        "rate, or a stream) and print a decision per stride "
                                                        "with its latency."),
    force: bool = typer.Option(False, "--force", help="Redo videos that are already finished."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Recognise micro-gestures in untrimmed videos: sliding windows scored by each run, fused, decoded into
    segments. Writes OUT/<video>/segments.csv, probs.npz and timeline.png (and render.mp4 with --render)."""
    from mgfast.device import resolve_device
    from mgfast.recognize.decode import DecodeOptions
    from mgfast.recognize.pipeline import RecognizeOptions, pooled_scores, recognize

    with exit_on(FileNotFoundError, ValueError, NotADirectoryError, code=1):
        options = RecognizeOptions(
            window=window, stride=stride, pose=pose, pose_model=pose_model, engine=engine, checkpoint=checkpoint,
            batch_size=batch_size, single_view=single_view, render=render, force=force, progress=progress,
            decode=DecodeOptions(smooth=smooth, threshold=_thresholds(threshold), min_length=min_length,
                                 merge_gap=merge_gap, nms_iou=nms_iou))
        if online:
            _online(src, runs, fusion, options, resolve_device(device), out)
            return
        results = recognize(src, runs, out, fusion=fusion, options=options, device=resolve_device(device),
                            log=lambda line: typer.secho(line, fg=typer.colors.YELLOW, err=True))
    done = [r for r in results if r.error is None]
    for r in done:
        state = "already done" if r.skipped else f"{len(r.segments)} segments"
        typer.echo(f"{r.video}: {state}, {r.out / 'timeline.png'}")
    if evaluate:
        pooled = pooled_scores(done)
        if pooled is None:
            typer.echo("eval: no video has a label file with classes; nothing to score")
        else:
            sweep, frame = pooled
            typer.echo("segment-level (pooled over videos): IoU  precision  recall  F1")
            for iou, s in sweep.items():
                typer.echo(f"  {iou:.1f}  {s.precision:.3f}  {s.recall:.3f}  {s.f1:.3f}  (tp {s.tp}, fp {s.fp}, fn {s.fn})")
            typer.echo(f"segment F1 @ IoU 0.5: {sweep[0.5].f1:.3f}")
            typer.echo(f"frame-level: precision {frame.precision:.3f}  recall {frame.recall:.3f}  F1 {frame.f1:.3f}")
    failed = len(results) - len(done)
    if failed:
        typer.secho(f"{failed} video(s) failed; see the messages above", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def _online(src: str, runs: list[Path], fusion: Path | None, options, device, out: Path) -> None:
    from mgfast.extract.options import ExtractOptions
    from mgfast.recognize.online import (check_online, file_frames, keypoints_source, latency_summary, run_online,
                                         stream_frames)
    from mgfast.recognize.pipeline import ENGINES_DIR, Recognizer
    from mgfast.recognize.sources import find_videos

    recognizer = Recognizer(runs, fusion, engine=options.engine, device=device, checkpoint=options.checkpoint,
                            batch_size=options.batch_size, window=options.window, stride=options.stride,
                            single_view=options.single_view, engine_dir=out / ENGINES_DIR)
    check_online(recognizer)
    is_file = Path(src).is_file()
    source = find_videos(src)[0] if is_file else None
    fps, size, frames = file_frames(src) if is_file else stream_frames(src)
    keypoints_of = keypoints_source(source, ExtractOptions(crops=False, pose=options.pose,
                                                           pose_model=options.pose_model))
    classes = recognizer.classes

    def emit(d) -> None:
        c = classes[d.label]
        typer.echo(f"frame {d.frame} ({d.frame / fps:.2f} s): {c.code} {c.name} p={d.probability:.2f} "
                   f"latency {d.latency * 1e3:.1f} ms")

    decisions = run_online(recognizer, fps, size, frames, keypoints_of, emit)
    typer.echo(latency_summary(decisions))
