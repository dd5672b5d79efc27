"""`mgfast demo`: the whole pipeline on a built-in synthetic corpus, and the ablations of the method's claims.

The demo synthesises interview videos of several subjects, holds out some subjects as unlabelled test
videos (the cross-subject shift that adaptation addresses), extracts them, trains the joint, heatmap and RGB
branches with small configurations, fuses them, adapts them by cross-modal pseudo-labelling, fuses again,
and scores everything on the held-out subjects with the corpus's hidden labels::

    OUT/videos/    the synthetic corpus (MiGA layout)      OUT/runs/<modality>/   trained runs
    OUT/data/      the extracted dataset                   OUT/adapted/           CMPL rounds
    OUT/fused-source/, OUT/fused/   fusion before / after adaptation, each with report.md
    OUT/summary.md                  the table printed at the end
    OUT/untrimmed/, OUT/recognized/ an untrimmed video of a held-out subject and its recognition

It ends by recognising that untrimmed video (`mgfast recognize` with the adapted pose branches, fused) and
printing its segment F1 and its timeline.

Every stage is resumable: rerunning the command reuses what is finished.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mgfast.adapt import AdaptConfig, adapt
from mgfast.branches import NAMES
from mgfast.fuse import FUSED, Fusion, fuse_runs, write_outputs
from mgfast.io.atomic import atomic_write_text
from mgfast.report import write_report
from mgfast.runs import hidden_label_scores, load_logits, logits_path


@dataclass(frozen=True)
class DemoSize:
    """How big the demo is: the corpus, the crops, training epochs and adaptation rounds."""

    videos: int
    subjects: int
    frames_per_video: int
    segments_per_video: int
    classes: int
    imbalance: float  # most / least frequent class
    crop_size: int
    epochs: dict[str, int]
    rounds: int
    finetune_epochs: int
    tau: float  # CMPL confidence threshold: small models on few clips are rarely confident


SIZES = {
    # Minutes on a 2-core CPU: a smoke test of every stage (CI).
    "ci": DemoSize(videos=8, subjects=8, frames_per_video=360, segments_per_video=8, classes=5, imbalance=3.0,
                   crop_size=64,
                   epochs={"joint": 6, "heatmap": 3, "rgb": 3}, rounds=1, finetune_epochs=1, tau=0.5),
    # Under 10 minutes on a 2-core CPU; clearly better than chance on the held-out subjects. 16 subjects: 5
    # held out for testing, 2 for validation and 2 for calibration carved from the 11 training subjects.
    "small": DemoSize(videos=16, subjects=16, frames_per_video=600, segments_per_video=12, classes=6,
                      imbalance=4.0, crop_size=64,
                      epochs={"joint": 30, "heatmap": 16, "rgb": 30}, rounds=2, finetune_epochs=2, tau=0.5),
}


@dataclass(frozen=True)
class Scores:
    micro_f1: float
    macro_f1: float
    ece: float | None = None


def _adapt_config(size: DemoSize) -> AdaptConfig:
    return AdaptConfig(rounds=size.rounds, epochs=size.finetune_epochs, tau=size.tau)


def held_out_scores(run_dir: Path) -> Scores:
    """A run's scores on the test split against the corpus's hidden labels."""
    logits = load_logits(run_dir, "test")
    scores = hidden_label_scores(logits)
    if scores is None:
        raise ValueError(f"{logits.path}: the test clips have no hidden labels to score against")
    return Scores(scores["micro_f1"], scores["macro_f1"])


def fuse_into(run_dirs: list[Path], out: Path, *, temperature: bool = True) -> Fusion:
    """Fuses the runs with uniform weights (temperatures fitted on the calibration split) and writes the
    submission, ``fused.npz`` and the report into ``out``."""
    fusion = fuse_runs(run_dirs, temperature=temperature)
    write_outputs(fusion, out)
    write_report(fusion, out)
    return fusion


def fused_scores(fusion: Fusion) -> tuple[Scores, Scores]:
    """The fusion's test scores before and after temperature scaling (ECE included)."""
    raw, scaled = fusion.test.metrics[FUSED]
    return tuple(Scores(m.accuracy, m.macro_f1, m.ece) for m in (raw, scaled))


def calibration_table(fusion: Fusion, stage: str) -> list[str]:
    """Test-split NLL, Brier score and ECE of every branch and the fusion, before and after scaling."""
    split = fusion.test
    first = split.metrics[FUSED][1]
    lines = [f"Calibration {stage} on the test split ({first.clips} clips; ECE with {first.ece_bins} bin(s), the "
             "noise floor of a perfectly calibrated model in brackets), before → after temperature scaling:", "",
             "| model | T | NLL | Brier | ECE |", "|---|---|---|---|---|"]
    for name in [*fusion.names, FUSED]:
        before, after = split.metrics[name]
        t = f"{fusion.temperatures[name]:.2f}" if name in fusion.temperatures else ""
        lines.append(f"| {name} | {t} | {before.nll:.3f} → {after.nll:.3f} "
                     f"| {before.brier:.3f} → {after.brier:.3f} "
                     f"| {before.ece:.3f} → {after.ece:.3f} ({after.ece_floor:.3f}) |")
    return lines


def prepare_data(out: Path, size: DemoSize, seed: int, log: Callable[[str], None]) -> Path:
    """Synthesises and extracts the corpus (skipped when already done); returns the dataset directory."""
    from mgfast.extract import extract
    from mgfast.synth import synthesize

    videos, data = out / "videos", out / "data"
    if not (videos / "synth.json").is_file():
        log(f"synthesising {size.videos} videos of {size.subjects} subjects into {videos}")
        synthesize(videos, videos=size.videos, subjects=size.subjects, seed=seed, frames_per_video=size.frames_per_video,
                   segments_per_video=size.segments_per_video, classes=size.classes, imbalance=size.imbalance,
                   overwrite=True)
    log(f"extracting keypoints, saliency boxes and {size.crop_size}px crops into {data}")
    summary = extract(videos, data, crop_size=size.crop_size)
    if not summary.ok:
        raise RuntimeError(f"extraction failed:\n{summary}")
    return data


def train_branch(data: Path, modality: str, out: Path, size: DemoSize, seed: int, **overrides) -> Path:
    """Trains one branch with its tiny preset (skipped when the run has finished)."""
    from mgfast.train import make_config, train

    if logits_path(out, "test").is_file():
        return out
    config = make_config(data, modality, out, preset="tiny", epochs=size.epochs[modality], seed=seed, **overrides)
    return train(config)


def run_demo(out: str | Path, size: DemoSize, *, seed: int = 0, log: Callable[[str], None] = print) -> str:
    """Runs the whole pipeline into ``out``; returns the summary table (also written to OUT/summary.md)."""
    out = Path(out)
    data = prepare_data(out, size, seed, log)
    runs = {}
    for modality in NAMES:
        log(f"training the {modality} branch")
        runs[modality] = train_branch(data, modality, out / "runs" / modality, size, seed)
    log("fusing the trained branches")
    fusion_before = fuse_into(list(runs.values()), out / "fused-source")
    fused_before = fused_scores(fusion_before)[1]
    log(f"adapting to the held-out subjects: {size.rounds} round(s) of cross-modal pseudo-labelling")
    adapted = adapt(list(runs.values()), out / "adapted",
                    _adapt_config(size), log=log)
    log("fusing the adapted branches")
    fusion_after = fuse_into([adapted[m] for m in NAMES], out / "fused")
    fused_after = fused_scores(fusion_after)[1]

    rows = [(m, held_out_scores(runs[m]), held_out_scores(adapted[m])) for m in NAMES]
    rows.append(("fusion", fused_before, fused_after))
    chance = 1 / _num_classes(data)
    lines = [
        f"Held-out subjects (test split, hidden labels), chance = {chance:.1%}; fusion: uniform weights, "
        "temperatures fitted on the calibration subjects",
        "",
        "| model | micro-F1 before | micro-F1 after CMPL | macro-F1 before | macro-F1 after CMPL |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {b.micro_f1:.1%} | {a.micro_f1:.1%} | {b.macro_f1:.1%} | {a.macro_f1:.1%} |" for name, b, a in rows]
    lines += ["", *calibration_table(fusion_before, "before CMPL"), "", *calibration_table(fusion_after, "after CMPL"),
              "", f"Report: {out / 'fused' / 'report.md'}"]
    log("recognising an untrimmed video of a held-out subject")
    lines += ["", *recognize_untrimmed(out, data, [adapted["joint"], adapted["heatmap"]], size, seed)]
    table = "\n".join(lines)
    atomic_write_text(out / "summary.md", "# mgfast demo\n\n" + table + "\n")
    return table


UNTRIMMED_FRAMES = {"ci": None, "small": 1500}
"""Frames of the demo's untrimmed video per size (None: the tiny CI size of mgfast.synth.untrimmed)."""


def recognize_untrimmed(out: Path, data: Path, run_dirs: list[Path], size: DemoSize, seed: int) -> list[str]:
    """Writes untrimmed videos of the demo's subjects up to the first held-out one, recognises that one with
    the pose runs fused (their temperatures fitted on the calibration split), and returns the lines saying
    its segment F1 at IoU 0.5 and where its timeline is (both files resumable)."""
    from mgfast.io.dataset import Dataset
    from mgfast.recognize.pipeline import RecognizeOptions, pooled_scores, recognize
    from mgfast.synth.untrimmed import write_untrimmed

    held_out = {c.subject for c in Dataset(data).split("test")}
    first = next((i for i in range(size.subjects) if f"S{i + 1:02d}" in held_out), None)
    if first is None:
        raise ValueError(f"{data}: no held-out subject among S01..S{size.subjects:02d} to write an untrimmed video of")
    videos = out / "untrimmed"
    if not (videos / "synth.json").is_file():
        frames = UNTRIMMED_FRAMES.get(size_name(size))
        write_untrimmed(videos, first + 1, seed, tiny=frames is None, frames=frames, subjects=size.subjects,
                        classes=size.classes, imbalance=size.imbalance, overwrite=True, progress=False)
    fused = out / "fused-pose"
    fuse_into(run_dirs, fused)
    results = recognize(videos / f"U{first + 1:04d}", run_dirs, out / "recognized", fusion=fused,
                        options=RecognizeOptions(progress=False))
    if results[0].error is not None:
        raise RuntimeError(f"recognising {videos / f'U{first + 1:04d}'} failed: {results[0].error}")
    pooled = pooled_scores(results)
    f1 = "n/a (no labels)" if pooled is None else f"{pooled[0][0.5].f1:.3f}"
    return [f"Untrimmed video {results[0].video} (subject S{first + 1:02d}, held out): {len(results[0].segments)} "
            f"segments, segment F1 @ IoU 0.5 = {f1}", f"Timeline: {results[0].out / 'timeline.png'}"]


def size_name(size: DemoSize) -> str | None:
    return next((name for name, s in SIZES.items() if s == size), None)


def _num_classes(data: Path) -> int:
    from mgfast.io.dataset import Dataset

    return Dataset(data).num_classes


# ----------------------------------------------------------------------------------------------------------
# Ablations: the method's claims, measured on the synthetic corpus over several seeds.

VARIANTS = {
    # name: training overrides. "full" is mgfast's default recipe: sqrt class weights + OSE.
    "full": {},
    "no-class-weights": {"class_weights": "none"},
    "no-ose": {"ose_weight": 0.0},
}


def run_ablation(out: str | Path, size: DemoSize, seeds: list[int], log: Callable[[str], None] = print) -> str:
    """Trains every variant of every branch per seed, adapts and fuses the full recipe; returns the table of
    the paper's claims (means over seeds, with the per-seed values in OUT/ablation.json)."""
    out = Path(out)
    results: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    for seed in seeds:
        root = out / f"seed-{seed}"
        data = prepare_data(root, size, seed, log)
        runs: dict[str, dict[str, Path]] = {}
        for variant, overrides in VARIANTS.items():
            runs[variant] = {}
            for modality in NAMES:
                log(f"seed {seed}: training {modality} ({variant})")
                run = train_branch(data, modality, root / "runs" / variant / modality, size, seed, **overrides)
                runs[variant][modality] = run
                scores = held_out_scores(run)
                record(f"{modality}/{variant}/micro", scores.micro_f1)
                record(f"{modality}/{variant}/macro", scores.macro_f1)
        full = [runs["full"][m] for m in NAMES]
        adapted = adapt(full, root / "adapted", _adapt_config(size), log=log)
        for modality in NAMES:
            scores = held_out_scores(adapted[modality])
            record(f"{modality}/cmpl/micro", scores.micro_f1)
            record(f"{modality}/cmpl/macro", scores.macro_f1)
        raw, scaled = fused_scores(fuse_into(full, root / "fused"))
        plain = fused_scores(fuse_into(full, root / "fused-no-temperature", temperature=False))[0]
        record("fusion/micro", scaled.micro_f1)
        record("fusion/macro", scaled.macro_f1)
        record("fusion-no-temperature/micro", plain.micro_f1)
        record("best-single/micro", max(results[f"{m}/full/micro"][-1] for m in NAMES))
        record("fusion/ece-raw", raw.ece)
        record("fusion/ece-scaled", scaled.ece)

    atomic_write_text(out / "ablation.json", json.dumps({"seeds": seeds, "size": asdict(size), "results": results}, indent=2))
    table = format_ablation(results, seeds)
    atomic_write_text(out / "ablation.md", "# mgfast ablations (synthetic corpus)\n\n" + table + "\n")
    return table


def format_ablation(results: dict[str, list[float]], seeds: list[int]) -> str:
    """Mean ± standard deviation over seeds of every claim's before/after numbers."""

    def cell(key: str) -> str:
        values = results[key]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.1%} ± {spread:.1%}"

    lines = [f"Test split of held-out subjects, mean ± sd over seeds {seeds}.", "",
             "| claim | branch | baseline micro / macro | with it micro / macro |", "|---|---|---|---|"]
    for modality in NAMES:
        for claim, without, with_ in (("sqrt class weights", "no-class-weights", "full"),
                                      ("OSE loss", "no-ose", "full"), ("CMPL adaptation", "full", "cmpl")):
            lines.append(f"| {claim} | {modality} | {cell(f'{modality}/{without}/micro')} / {cell(f'{modality}/{without}/macro')} "
                         f"| {cell(f'{modality}/{with_}/micro')} / {cell(f'{modality}/{with_}/macro')} |")
    lines += ["", "| fusion claim | without | with |", "|---|---|---|",
              f"| fusion beats the best single branch (micro-F1) | {cell('best-single/micro')} | {cell('fusion/micro')} |",
              f"| temperatures in fusion (micro-F1) | {cell('fusion-no-temperature/micro')} | {cell('fusion/micro')} |",
              f"| temperature scaling lowers ECE | {cell('fusion/ece-raw')} | {cell('fusion/ece-scaled')} |"]
    return "\n".join(lines)


def size_named(name: str, **changes) -> DemoSize:
    if name not in SIZES:
        raise ValueError(f"unknown demo size {name!r}; choose one of {', '.join(SIZES)}")
    return replace(SIZES[name], **changes)
