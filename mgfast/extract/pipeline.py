"""The extraction run: discover videos, extract their clips (in parallel, resumably), write the dataset.

Shards: ``shard=(i, n)`` extracts every n-th video (sorted by id) from the i-th and writes
``manifest.shard-i-of-n.csv`` instead of ``manifest.csv``. Shards can run at the same time, on one machine
or several sharing the output directory. A final run without ``shard`` then finds every finished video in
``records/``, extracts whatever is missing (e.g. a failed shard's videos) and writes ``manifest.csv`` for the
whole source: the merge.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from mgfast.device import resolve_device
from mgfast.extract.options import BackgroundOptions, ExtractOptions
from mgfast.extract.plan import class_index_by_code, load_classes, plan_video, select_shard
from mgfast.extract.worker import STAGES, VideoJob, VideoResult, process_video
from mgfast.io.dataset import FORMAT, MANIFEST_COLUMNS, MANIFEST_FILE, META_FILE, ClassInfo, Clip, layout_to_dict, write_manifest, write_meta
from mgfast.layout import MG68


@dataclass
class ExtractSummary:
    """What an extraction run did. ``ok`` is False when any video failed (the CLI then exits with 1)."""

    dataset: Path
    manifest: Path
    videos_ok: int = 0  # extracted (wholly or in part) by this run
    videos_skipped: int = 0  # already complete: nothing read
    videos_failed: int = 0
    clips_written: int = 0
    clips_skipped: int = 0
    clips_dropped: int = 0  # background windows past the end of their video's pose table
    clips: int = 0  # rows in the manifest written
    failures: dict[str, str] = field(default_factory=dict)  # video id -> what went wrong
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (summed over workers)
    seconds: float = 0.0  # wall time

    @property
    def ok(self) -> bool:
        return self.videos_failed == 0

    def __str__(self) -> str:
        videos = self.videos_ok + self.videos_skipped + self.videos_failed
        lines = [
            f"videos: {videos} ({self.videos_ok} extracted, {self.videos_skipped} already done, {self.videos_failed} failed)",
            f"clips:  {self.clips_written} written, {self.clips_skipped} already done; {self.clips} in {self.manifest}",
        ]
        if self.clips_dropped:
            lines.append(f"        {self.clips_dropped} background windows dropped: they end past their video's pose "
                         "table (the table has fewer frames than the video)")
        if self.timings:
            stages = ", ".join(f"{s} {self.timings[s]:.1f}s" for s in STAGES if s in self.timings)
            lines.append(f"time:   {self.seconds:.1f}s wall; per stage (all workers): {stages}")
        lines += [f"FAILED {video}: {message}" for video, message in sorted(self.failures.items())]
        return "\n".join(lines)


def extract(
    src: str | Path,
    out: str | Path,
    *,
    crop_size: int = 224,
    crops: bool = True,
    crop_format: str = "h264",
    pose: str = "auto",
    pose_model: str | Path | None = None,
    device: str = "auto",
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    overwrite: bool = False,
    chunk_frames: int = 128,
    progress: bool = True,
    background: BackgroundOptions | None = None,
) -> ExtractSummary:
    """Turns the annotated segments of a video source into an mgfast dataset directory.

    For each video found by :func:`mgfast.io.sources.discover` and each of its annotated segments, writes
    the clip's mg68 keypoints (``keypoints/<clip>.npy``, from the video's OpenPose file or a pose backend),
    its saliency box (in the manifest) and, unless ``crops=False``, an RGB crop clip of that box cut from
    the original-resolution frames (``crops/<clip>.mp4``, or ``.npy``), then ``manifest.csv`` and
    ``meta.json`` (see :mod:`mgfast.io.dataset`). Labelled segments become ``train`` clips, unlabelled ones
    (test label files) ``test`` clips.

    Reruns are cheap: finished clips are skipped (their files are not rewritten) and an interrupted run
    resumes where it stopped. A video that cannot be read is reported in the summary and skipped; the
    others go on.

    Args:
        src: the source folder (MiGA layout, a folder of videos with ``annotations.csv``, or OpenPose JSON).
        out: the dataset directory to write (created if needed).
        crop_size: side of the square crops in pixels.
        crops: write RGB crops (False: keypoints and boxes only; videos are then only probed for their size).
        crop_format: ``"h264"`` (PyAV, falling back to ``mp4v`` then ``npy``), ``"mp4v"`` or ``"npy"`` (exact
            uint8 arrays).
        pose: ``"auto"``, ``"openpose"``, ``"mediapipe"`` or ``"onnx"`` (see
            :data:`mgfast.extract.options.POSE_CHOICES`).
        pose_model: the ONNX model for ``pose="onnx"``.
        device: where crops are computed: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        workers: videos extracted in parallel (processes).
        shard: ``(i, n)``, 1-based: extract only the i-th of n shards (see the module docstring).
        overwrite: redo every clip even when it is on disk (also needed to change parameters of an
            existing dataset).
        chunk_frames: frames decoded at a time (bounds memory for long segments).
        progress: show progress bars.
        background: also cut background windows from the unannotated spans of labelled videos (manifest
            ``kind`` ``background``; see :class:`mgfast.extract.options.BackgroundOptions`). Give the same
            value to every shard and to the merge.

    Raises:
        FileNotFoundError, NotADirectoryError, ValueError: bad source or options, ``out`` not empty and not a
        dataset, or ``out`` made with other parameters. Errors of single videos are not raised: they are in
        the summary's ``failures``.
    """
    started = time.perf_counter()
    options = ExtractOptions(
        crop_size=crop_size, crops=crops, crop_format=crop_format, pose=pose,
        pose_model=Path(pose_model) if pose_model is not None else None, device=device, workers=workers,
        shard=shard, chunk_frames=chunk_frames, overwrite=overwrite, background=background,
    )
    device_name = resolve_device(options.device).type if options.crops else "cpu"
    src, root = Path(src).resolve(), Path(out).resolve()
    sources, classes, hidden = _read_source(src, root)
    params = options.params()
    _prepare_output(root, {"source": str(src), **params}, classes, overwrite)

    summary = ExtractSummary(dataset=root, manifest=root / _manifest_name(options.shard))
    index_of_code = class_index_by_code(classes)
    jobs = []
    for source in select_shard(sources, options.shard):
        if source.problem is not None:  # a bad label file fails its video, as a corrupt video does
            summary.failures[source.video_id] = source.problem
            continue
        try:
            clips = plan_video(source, index_of_code, hidden, options.background)
        except ValueError as error:
            summary.failures[source.video_id] = f"{type(error).__name__}: {error}"
            continue
        jobs.append(VideoJob(source=source, clips=clips, root=root, options=options, params=params, device=device_name))

    manifest: list[Clip] = []
    for result in _run(jobs, options.workers, progress):
        for stage, seconds in result.timings.items():
            summary.timings[stage] = summary.timings.get(stage, 0.0) + seconds
        summary.clips_written += result.written
        summary.clips_skipped += result.skipped
        summary.clips_dropped += result.dropped
        if result.error is not None:
            summary.failures[result.video] = result.error
        elif result.untouched:
            summary.videos_skipped += 1
        else:
            summary.videos_ok += 1
        if result.error is None:
            manifest.extend(result.clips)
    summary.videos_failed = len(summary.failures)
    summary.clips = len(manifest)
    _write_manifest_if_changed(summary.manifest, manifest)
    summary.seconds = time.perf_counter() - started
    return summary


def _read_source(src: Path, root: Path) -> tuple[list, list[ClassInfo], dict[str, int]]:
    from mgfast.io.sources import discover, read_hidden_labels

    # An output directory inside the source holds crop videos that are not source videos.
    found = discover(src, keep_bad_labels=True)
    sources = [s for s in found if not Path(s.video_path).resolve().is_relative_to(root)]
    if not sources:
        raise ValueError(f"{src}: every video found lies inside the output directory {root}; choose --out elsewhere")
    return sources, load_classes(src), read_hidden_labels(src)


def _manifest_name(shard: tuple[int, int] | None) -> str:
    return MANIFEST_FILE if shard is None else f"manifest.shard-{shard[0]}-of-{shard[1]}.csv"


def _prepare_output(root: Path, params: dict, classes: list[ClassInfo], overwrite: bool) -> None:
    """Checks that ``root`` is new or made with the same parameters, then writes meta.json (if it changed)."""
    from mgfast import __version__

    if root.exists() and not root.is_dir():
        raise ValueError(f"--out {root} is a file; give a directory for the dataset")
    meta_path = root / META_FILE
    params = json.loads(json.dumps(params))
    existing = None
    # Hidden names are skipped: a shard starting at the same moment may be writing meta.json's temporary file.
    if root.is_dir() and not meta_path.is_file() and any(not p.name.startswith(".") for p in root.iterdir()):
        raise ValueError(f"--out {root} is not empty and not an mgfast dataset (no {META_FILE}); choose a new or empty directory")
    if meta_path.is_file():
        try:
            existing = json.loads(meta_path.read_text())
        except ValueError as error:
            raise ValueError(f"{meta_path}: unreadable ({error}); delete it and rerun (finished clips are kept)") from None
        if existing.get("format") != FORMAT:
            raise ValueError(f"{root} holds a {META_FILE} that is not an mgfast dataset's; choose another --out directory")
        old = {k: v for k, v in existing.get("params", {}).items() if k != "source"}
        new = {k: v for k, v in params.items() if k != "source"}
        if old != new and not overwrite:
            changed = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
            raise ValueError(
                f"{root} was extracted with other parameters ({changed}); extract into a new directory, or pass "
                f"--overwrite to redo every clip with the new ones"
            )
    wanted = {"mgfast_version": __version__, "layout": layout_to_dict(MG68), "classes": [asdict(c) for c in classes], "params": params}
    if existing is None or any(existing.get(k) != v for k, v in wanted.items()):
        root.mkdir(parents=True, exist_ok=True)
        write_meta(root, layout=MG68, classes=classes, params=params)


def _write_manifest_if_changed(path: Path, clips: Sequence[Clip]) -> None:
    """Writes the manifest unless the file already holds exactly these rows (a no-op rerun rewrites nothing)."""
    rows = sorted((c.to_row() for c in clips), key=lambda r: r["clip_id"])
    if path.is_file():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames == MANIFEST_COLUMNS and list(reader) == rows:
                return
    write_manifest(path, clips)


# --------------------------------------------------------------------------------------------------------
# Running the jobs, in this process or in a pool, with progress bars over videos and clips.

_TICKS = None  # in pool workers: the queue that carries finished-clip counts to the parent's progress bar


def _init_worker(ticks, threads: int, parent: int) -> None:
    import torch

    global _TICKS
    _TICKS = ticks
    torch.set_num_threads(threads)  # workers share the cores
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Ends this worker once the extraction that started it is gone (killed with SIGKILL, it cannot stop its
    pool): the worker is then re-parented, so its parent id changes. Finished clips are on disk already."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _run_in_worker(job: VideoJob) -> VideoResult:
    return process_video(job, tick=lambda n: _TICKS.put(n) if n else None)


def _run(jobs: list[VideoJob], workers: int, progress: bool) -> Iterable[VideoResult]:
    total_clips = sum(len(j.clips) for j in jobs)
    video_bar = tqdm(total=len(jobs), desc="videos", unit="video", disable=not progress, position=0)
    clip_bar = tqdm(total=total_clips, desc="clips ", unit="clip", disable=not progress, position=1)
    try:
        results = _run_serial(jobs, clip_bar.update) if workers == 1 or len(jobs) <= 1 else _run_pool(jobs, workers, clip_bar.update)
        for result in results:
            if result.error is not None:
                video_bar.write(f"FAILED {result.video}: {result.error.splitlines()[0]}")
            video_bar.update(1)
            yield result
    finally:
        clip_bar.close()
        video_bar.close()


def _run_serial(jobs: list[VideoJob], tick: Callable[[int], object]) -> Iterable[VideoResult]:
    for job in jobs:
        yield process_video(job, tick=tick)


def _run_pool(jobs: list[VideoJob], workers: int, tick: Callable[[int], object]) -> Iterable[VideoResult]:
    # spawn, not fork: forking a process that holds torch threads or a CUDA context is unsafe.
    context = multiprocessing.get_context("spawn")
    ticks = context.Queue()

    def forward_ticks() -> None:
        for n in iter(ticks.get, None):
            tick(n)

    drain = threading.Thread(target=forward_ticks, daemon=True)
    drain.start()
    threads = max(1, (os.cpu_count() or 1) // workers)
    try:
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_init_worker, initargs=(ticks, threads, os.getpid())) as pool:
            futures = {pool.submit(_run_in_worker, job): job for job in jobs}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool:
                    video = futures[future].source.video_id
                    yield VideoResult(video=video, error="the worker process died (crashed decoder or out of memory); rerun to retry")
    finally:
        ticks.put(None)
        drain.join()
