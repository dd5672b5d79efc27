"""Cross-modal pseudo-labelling (CMPL): adapting trained runs to unseen subjects, round by round.

Each round, for every modality, the other modalities' consensus on the unlabelled clips (see
:mod:`mgfast.pseudo`) picks a pseudo-labelled set; the modality is fine-tuned from its current checkpoint on
its labelled clips plus that set and predicts again. The next round starts from the fine-tuned runs::

    OUT/adapt.json                  the adaptation's settings (a rerun with other settings is refused)
    OUT/round-<r>/pseudo/<m>.csv    the pseudo-set of modality m: clip_id, label, weight, confidence
    OUT/round-<r>/<m>/              the fine-tuned run of modality m (a normal run directory)
    OUT/round-<r>/log.json          per-class pseudo-set sizes, agreement, pseudo-label accuracy, F1 before/after
    OUT/latest -> round-<K>         the final runs, ready for `mgfast fuse OUT/latest/*`

Source runs are only read. An interrupted adaptation resumes where it stopped: finished rounds are kept,
a half-finished fine-tune continues from its last checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mgfast import metrics
from mgfast.calibration import fit_temperature, softmax
from mgfast.io.atomic import atomic_write_text
from mgfast.pseudo import (AGREE_RULES, PseudoLabels, check_teacher_weights, no_labels, select_own_labels,
                           select_pseudo_labels)
from mgfast.runs import (Logits, Run, align_logits, background_class, check_same_classes, hidden_label_scores,
                         load_logits, logits_path, read_run, run_names)

SETTINGS_FILE = "adapt.json"
ROUND_LOG = "log.json"
TEACHINGS = ("cross", "self", "none", "oracle")
"""Who picks a modality's pseudo-labels: ``cross`` is CMPL (the other modalities); the rest are its controls,
run with the same fine-tuning schedule: ``self`` (self-training: the modality's own confident predictions),
``none`` (continued training on the labelled clips alone) and ``oracle`` (the clips CMPL selects, with their
true labels: the corpus's hidden labels, so only a synthetic or fully annotated corpus can run it)."""
LATEST = "latest"
"""The link in the output folder to the final round's runs."""


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of one adaptation (the defaults are mgfast's, DESIGN §7).

    Attributes:
        tau: minimum teacher confidence for a pseudo label.
        agree: ``"all"`` or ``"majority"`` of the teaching modalities must agree with the teacher's label.
        per_class_cap: at most this many pseudo labels per class per modality (None: no cap).
        pseudo_weight: loss weight of a pseudo-labelled clip (labelled clips weigh 1).
        rounds: number of pseudo-label / fine-tune rounds.
        epochs: fine-tuning epochs per round (None: a quarter of the source run's epochs, at least 1).
        lr_scale: fine-tuning learning rate as a fraction of the source run's.
        temperatures: scale each teacher by its temperature fitted on the calibration split.
        weights: teacher weight per modality name (None: equal).
        teaching: ``cross`` (CMPL) or one of its controls, see :data:`TEACHINGS`.
        unlabelled_split, calibration_split: where the pseudo labels come from, where temperatures are fitted
            (held-out training subjects that no checkpoint selection read; see :mod:`mgfast.data.splits`).
    """

    tau: float = 0.7
    agree: str = "all"
    per_class_cap: int | None = None
    pseudo_weight: float = 0.5
    rounds: int = 2
    epochs: int | None = None
    lr_scale: float = 0.2
    temperatures: bool = True
    weights: dict[str, float] | None = None
    teaching: str = "cross"
    unlabelled_split: str = "test"
    calibration_split: str = "calib"

    def __post_init__(self) -> None:
        if self.teaching not in TEACHINGS:
            raise ValueError(f"teaching must be one of {', '.join(TEACHINGS)}, got {self.teaching!r}")
        if self.agree not in AGREE_RULES:
            raise ValueError(f"agree must be one of {', '.join(AGREE_RULES)}, got {self.agree!r}")
        if not 0 <= self.tau <= 1:
            raise ValueError(f"tau must lie in [0, 1], got {self.tau}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if not 0 < self.pseudo_weight <= 1:
            raise ValueError(f"pseudo_weight must lie in (0, 1], got {self.pseudo_weight}")


FineTune = Callable[[Run, Path, Path, AdaptConfig], Path]
"""``fine_tune(source_run, pseudo_csv, out_dir, config) -> out_dir``: trains a new run from the source's checkpoint."""


def _aligned(runs: dict[str, Run], split: str) -> dict[str, Logits]:
    """Each run's logits on ``split``, rows in the first run's clip order."""
    return dict(zip(runs, align_logits([load_logits(run.path, split) for run in runs.values()])))


def _temperatures(runs: dict[str, Run], config: AdaptConfig) -> dict[str, float]:
    if not config.temperatures:
        return dict.fromkeys(runs, 1.0)
    temps = {}
    for name, logits in _aligned(runs, config.calibration_split).items():
        labelled = logits.labels >= 0
        if not labelled.any():
            raise ValueError(f"{logits.path}: no labelled clips to fit a temperature on; pass --no-temperatures")
        temps[name] = fit_temperature(logits.logits[labelled], logits.labels[labelled])
    return temps


def _write_pseudo_csv(path: Path, clip_ids: np.ndarray, selection, weight: float) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["clip_id", "label", "weight", "confidence"])
    for i, label, conf in zip(selection.indices, selection.labels, selection.confidence):
        writer.writerow([clip_ids[i], int(label), weight, f"{conf:.6f}"])
    atomic_write_text(path, text.getvalue())


def _select(round_dir: Path, runs: dict[str, Run], config: AdaptConfig) -> dict:
    """Writes every modality's pseudo-set for this round; returns the round's selection statistics."""
    unlabelled = _aligned(runs, config.unlabelled_split)
    clip_ids = next(iter(unlabelled.values())).clip_ids
    hidden = next(iter(unlabelled.values())).hidden_labels
    probs = {name: softmax(logits.logits) for name, logits in unlabelled.items()}
    temperatures = _temperatures(runs, config)
    num_classes = next(iter(unlabelled.values())).num_classes
    stats = {"teaching": config.teaching, "temperatures": temperatures, "unlabelled_clips": int(len(clip_ids)),
             "modalities": {}}
    for name in runs:
        selection = _pseudo_set(probs, name, hidden, temperatures, config)
        _write_pseudo_csv(round_dir / "pseudo" / f"{name}.csv", clip_ids, selection, config.pseudo_weight)
        entry = {"selected": len(selection), "per_class": np.bincount(selection.labels, minlength=num_classes).tolist()}
        known = hidden[selection.indices] >= 0
        if known.any():
            entry["pseudo_label_accuracy"] = float((hidden[selection.indices][known] == selection.labels[known]).mean())
        stats["modalities"][name] = entry
    predictions = np.stack([p.argmax(1) for p in probs.values()])
    stats["all_modalities_agree"] = float((predictions == predictions[0]).all(0).mean()) if len(clip_ids) else 0.0
    return stats


def _pseudo_set(probs: dict[str, np.ndarray], name: str, hidden: np.ndarray, temperatures: dict[str, float],
                config: AdaptConfig) -> PseudoLabels:
    """The pseudo-set of modality ``name`` under ``config.teaching``."""
    if config.teaching == "none":
        return no_labels()
    if config.teaching == "self":
        return select_own_labels(probs[name], tau=config.tau, temperature=temperatures[name],
                                 per_class_cap=config.per_class_cap)
    selection = select_pseudo_labels(probs, name, tau=config.tau, temperatures=temperatures, weights=config.weights,
                                     agree=config.agree, per_class_cap=config.per_class_cap)
    if config.teaching == "cross":
        return selection
    truth = hidden[selection.indices]
    if (truth < 0).any():
        raise ValueError(f"teaching 'oracle' needs the true labels of the unlabelled clips ({config.unlabelled_split} "
                         "split's hidden labels), which this dataset lacks")
    return PseudoLabels(selection.indices, truth.astype(np.int64), selection.confidence)


def adapt(source_runs: list[str | Path], out: str | Path, config: AdaptConfig, fine_tune: FineTune | None = None,
          log: Callable[[str], None] = print) -> dict[str, Path]:
    """Runs CMPL over ``source_runs`` (two or more, one dataset) into ``out``; returns the final runs by name.

    ``fine_tune`` defaults to :func:`mgfast.train.fine_tune`; tests may pass a lighter one.
    """
    if len(source_runs) < 2:
        raise ValueError("adapt needs at least two runs (one per modality): each modality is taught by the others")
    if fine_tune is None:
        from mgfast.train import fine_tune
    out = Path(out)
    sources = [read_run(p) for p in source_runs]
    check_same_classes(sources)
    if background_class(sources[0]) is not None:
        raise ValueError(f"{sources[0].path} was trained with a background class (--background-class): pseudo-labels "
                         "for the test split's gesture clips would include 'no gesture'; adapt runs trained without it")
    names = run_names(sources)
    resolved_out = out.resolve()
    for run in sources:
        if resolved_out == run.path.resolve() or run.path.resolve() in resolved_out.parents:
            raise ValueError(f"--out {out} lies inside the source run {run.path}; choose a new directory (source runs are never modified)")
    check_teacher_weights(config.weights, names)  # before anything is written: a corrected rerun must start clean
    settings = {"sources": [str(r.path.resolve()) for r in sources], "names": names, "config": asdict(config)}
    settings_path = out / SETTINGS_FILE
    if settings_path.is_file():
        previous = json.loads(settings_path.read_text())
        if previous != settings:
            raise ValueError(f"{out} holds an adaptation with other runs or settings ({settings_path}); choose another --out")
    else:
        atomic_write_text(settings_path, json.dumps(settings, indent=2) + "\n")

    current = dict(zip(names, sources))
    for r in range(1, config.rounds + 1):
        round_dir = out / f"round-{r}"
        log_path = round_dir / ROUND_LOG
        if log_path.is_file():
            log(f"round {r}: finished earlier, kept")
            current = {name: read_run(round_dir / name) for name in names}
            continue
        stats = _select(round_dir, current, config)
        before = {name: hidden_label_scores(load_logits(run.path, config.unlabelled_split)) for name, run in current.items()}
        adapted = {}
        for name, run in current.items():
            target = round_dir / name
            if not _finished(target, config):
                log(f"round {r}: fine-tuning {name} on {stats['modalities'][name]['selected']} pseudo-labelled clips")
                fine_tune(run, round_dir / "pseudo" / f"{name}.csv", target, config)
            adapted[name] = read_run(target)
        after = {name: hidden_label_scores(load_logits(run.path, config.unlabelled_split)) for name, run in adapted.items()}
        for name in names:
            stats["modalities"][name].update({"before": before[name], "after": after[name]})
        atomic_write_text(log_path, json.dumps(stats, indent=2) + "\n")
        log(format_round(r, stats))
        current = adapted
    _point_latest(out, config.rounds)
    return {name: run.path for name, run in current.items()}


def _finished(run_dir: Path, config: AdaptConfig) -> bool:
    """A fine-tuned run is finished once it has predicted the splits that adaptation reads."""
    return all(logits_path(run_dir, split).is_file()
               for split in (config.calibration_split, config.unlabelled_split))


def _point_latest(out: Path, rounds: int) -> None:
    tmp = out / f".{LATEST}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(f"round-{rounds}", target_is_directory=True)
    os.replace(tmp, out / LATEST)


def format_round(r: int, stats: dict) -> str:
    """A compact table of one round: pseudo-set sizes, pseudo-label accuracy and F1 before/after."""
    lines = [f"round {r}: {stats['unlabelled_clips']} unlabelled clips, all modalities agree on "
             f"{stats['all_modalities_agree']:.1%}",
             f"  {'modality':<12} {'pseudo':>7} {'pl-acc':>7} {'micro-F1 before → after':>26} {'macro-F1 before → after':>26}"]
    for name, entry in stats["modalities"].items():
        accuracy = entry.get("pseudo_label_accuracy")
        cells = [f"{'—' if accuracy is None else f'{accuracy:.1%}':>7}"]
        for key in ("micro_f1", "macro_f1"):
            b, a = entry.get("before"), entry.get("after")
            cells.append(f"{'hidden labels unknown':>26}" if b is None or a is None else f"{b[key]:>15.1%} → {a[key]:<8.1%}")
        lines.append(f"  {name:<12} {entry['selected']:>7} " + " ".join(cells))
    return "\n".join(lines)
