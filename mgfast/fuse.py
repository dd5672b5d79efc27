"""Temperature-scaled soft voting over modalities (DESIGN §7) and the challenge submission.

    P = sum_m w_m softmax(z_m / T_m),   weights normalised to sum 1

``T_m`` is fitted per modality on the labelled clips of the calibration split
(:func:`mgfast.calibration.fit_temperature`): held-out subjects carved from the training subjects that no
checkpoint selection, early stopping or adaptation step read (:mod:`mgfast.data.splits`). The validation
split is no place for it: checkpoints were chosen on it, so its accuracy is optimistic and temperatures fitted
there sharpen the probabilities that the test split's subject shift already makes overconfident.

The weights are uniform unless given, or searched (opt-in) on the calibration split by
:func:`search_weights`: a coarse grid on the simplex (step 1/(2M) for M modalities by default, so single
modalities, equal pairs and the uniform mix are among the candidates) scored by the NLL of the fused
probabilities. A proper scoring rule over every clip varies far less than accuracy, which on a few dozen
clips moves in steps of several points and rewards whichever grid point happens to win a few clips.

:func:`fuse_runs` does all of it for a list of run directories; :func:`write_outputs` writes
``submission.csv`` and ``fused.npz``; :mod:`mgfast.report` renders the report.

Runs trained with a background ("no gesture") class (``mgfast train --background-class``) fuse with each
other only. Temperatures, weights, metrics and ``fused.npz`` cover every class, background included; the
submission is the arg-max over the gesture classes, as every clip of the challenge's test split is a gesture.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgfast.calibration import fit_temperature, softmax
from mgfast.io.atomic import atomic_path, atomic_write_text
from mgfast.io.dataset import ClassInfo
from mgfast.metrics import Metrics, check_labels, evaluate, nll
from mgfast.runs import (Logits, Run, align_logits, background_class, check_same_classes, load_logits, read_run,
                         run_names)

FUSED = "fusion"
"""The name of the fused model in results and reports (a modality may not use it)."""

HIDDEN_LABELS = "hidden labels (evaluation only)"
LABELS = "labels"
SUBMISSION_HEADER = ("Id", "Target")
CALIBRATION_SPLIT = "calib"


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights divided by their sum; ValueError unless all are finite, non-negative and some positive."""
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float, np.floating)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"weight of {name!r} must be a finite non-negative number, got {w!r}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise ValueError("at least one modality weight must be positive")
    return {name: float(w) / total for name, w in weights.items()}


def _stack(probs: Mapping[str, np.ndarray]) -> np.ndarray:
    """float64 ``[M, N, C]`` from modality -> ``[N, C]`` arrays of one shape."""
    if not probs:
        raise ValueError("no modalities to fuse")
    shapes = {n: np.shape(p) for n, p in probs.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 2:
        raise ValueError(f"probabilities to fuse must share one [N, C] shape, got {shapes}")
    return np.stack([np.asarray(p, dtype=np.float64) for p in probs.values()])


def fuse_probs(probs: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """``sum_m w_m probs[m]`` (float64) with the weights normalised to sum 1; ``weights`` must name every
    modality in ``probs``."""
    stacked = _stack(probs)
    missing = [n for n in probs if n not in weights]
    if missing:
        raise ValueError(f"no weight for modality(ies) {', '.join(missing)}")
    w = normalise_weights({n: weights[n] for n in probs})
    return np.tensordot(np.asarray([w[n] for n in probs]), stacked, axes=1)


MAX_GRID_POINTS = 200_000
"""The most weight vectors a search scores (the grid grows as C(1/step + M - 1, M - 1))."""


def simplex_grid(num_modalities: int, step: float) -> np.ndarray:
    """All weight vectors with entries in ``{0, step, 2 step, ..., 1}`` summing to 1, ``[K, M]``, ordered
    from the most to the least uniform (stable within equal distance)."""
    if num_modalities < 1:
        raise ValueError("need at least one modality")
    n = round(1.0 / step) if step > 0 else 0
    if n < 1 or not math.isclose(n * step, 1.0, abs_tol=1e-9):
        raise ValueError(f"weight step must be 1/k for a positive integer k (e.g. 0.1, 0.05), got {step!r}")
    points = math.comb(n + num_modalities - 1, num_modalities - 1)
    if points > MAX_GRID_POINTS:
        raise ValueError(f"a weight grid of step {step:g} over {num_modalities} runs has {points:,} points (at most "
                         f"{MAX_GRID_POINTS:,}); use a coarser --step or fewer runs")
    rows = []
    # Stars and bars: M-1 bar positions among n + M - 1 slots give the M parts of n.
    for bars in itertools.combinations(range(n + num_modalities - 1), num_modalities - 1):
        edges = (-1, *bars, n + num_modalities - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(num_modalities)])
    grid = np.asarray(rows, dtype=np.float64) / n
    spread = ((grid - 1.0 / num_modalities) ** 2).sum(1)
    return grid[np.argsort(spread, kind="stable")]


def default_step(num_modalities: int) -> float:
    """The weight search's grid step: 1/(2M), the coarsest grid holding the uniform mix of M modalities and
    every equal pair."""
    return 1.0 / (2 * num_modalities)


def search_weights(probs: Mapping[str, np.ndarray], labels: object, step: float | None = None) -> dict[str, float]:
    """The simplex-grid weights whose fusion has the lowest NLL on ``labels``; among equal NLLs the grid point
    closest to uniform. ``probs`` are the (temperature-scaled) probabilities of labelled clips; ``step``
    defaults to :func:`default_step`."""
    names = list(probs)
    step = default_step(len(names)) if step is None else step
    stacked = _stack(probs)
    y = check_labels("labels", labels, stacked.shape[2])
    if stacked.shape[1] != y.size:
        raise ValueError(f"probabilities have {stacked.shape[1]} rows but labels has {y.size} entries")
    best_nll, best = math.inf, None
    for w in simplex_grid(len(names), step):  # most uniform first: a strict improvement is needed to move away
        value = nll(np.tensordot(w, stacked, axes=1), y)
        if value < best_nll:
            best_nll, best = value, w
    return {n: float(v) for n, v in zip(names, best)}


def write_submission(path: str | Path, clip_ids: Sequence[str], codes: Sequence[int]) -> None:
    """Writes the challenge CSV ``Id,Target`` (one row per clip, atomically)."""
    if len(clip_ids) != len(codes):
        raise ValueError(f"{len(clip_ids)} clip ids but {len(codes)} codes")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SUBMISSION_HEADER)
    writer.writerows((str(cid), int(code)) for cid, code in zip(clip_ids, codes))
    atomic_write_text(path, text.getvalue())


def read_submission(path: str | Path) -> dict[str, int]:
    """Reads an ``Id,Target`` CSV into ``{clip_id: class code}``; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(c.strip() for c in rows[0]) != SUBMISSION_HEADER:
        raise ValueError(f"{path}:1: expected the header {','.join(SUBMISSION_HEADER)}")
    out: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip():
            raise ValueError(f"{path}:{line}: expected two fields 'clip_id,code', got {row!r}")
        cid = row[0].strip()
        try:
            code = int(row[1])
        except ValueError:
            raise ValueError(f"{path}:{line}: Target must be an integer class code, got {row[1]!r}") from None
        if cid in out:
            raise ValueError(f"{path}:{line}: clip id {cid} appears twice")
        out[cid] = code
    return out


@dataclass(frozen=True)
class SplitResult:
    """One split, all models (each modality and :data:`FUSED`).

    ``raw`` holds untempered probabilities (the fusion with the same weights, T = 1), ``scaled`` the
    temperature-scaled ones. ``labels`` are the labels scored against (-1 = none) and ``label_source`` says
    where they come from (:data:`LABELS`, :data:`HIDDEN_LABELS`, or None when the split has none).
    ``metrics[model] = (before, after)`` temperature scaling, on the clips with a label.
    """

    name: str
    clip_ids: np.ndarray
    raw: dict[str, np.ndarray]
    scaled: dict[str, np.ndarray]
    labels: np.ndarray
    label_source: str | None
    metrics: dict[str, tuple[Metrics, Metrics]]

    @property
    def num_labelled(self) -> int:
        return int((self.labels >= 0).sum())


@dataclass(frozen=True)
class Fusion:
    """The result of :func:`fuse_runs`."""

    runs: list[Run]
    names: list[str]
    classes: list[ClassInfo]
    temperatures: dict[str, float]
    temperature_fitted: bool
    weights: dict[str, float]
    weight_mode: str  # "given", "uniform" or "searched"
    weight_step: float | None  # grid step of a search
    calibration: SplitResult  # where temperatures (and searched weights) were fitted
    test: SplitResult
    background: int | None = None  # index of the runs' "no gesture" class, None when they have none

    @property
    def splits(self) -> tuple[SplitResult, SplitResult]:
        return self.calibration, self.test

    @property
    def weight_source(self) -> str:
        """How the weights were chosen, in words."""
        if self.weight_mode == "searched":
            return f"searched on {self.calibration.name} (grid step {self.weight_step:g}, lowest NLL)"
        return self.weight_mode

    def codes(self, probs: np.ndarray) -> np.ndarray:
        """Challenge class codes of the arg-max of ``probs`` [N, C] over the gesture classes (never background)."""
        probs = np.asarray(probs)
        gestures = [c.index for c in self.classes if c.index != self.background]
        return np.asarray([self.classes[i].code for i in gestures])[probs[:, gestures].argmax(1)]


def _split_result(name: str, items: list[Logits], names: list[str], temperatures: dict[str, float],
                  weights: dict[str, float]) -> SplitResult:
    raw = {n: softmax(item.logits) for n, item in zip(names, items)}
    scaled = {n: softmax(item.logits, temperatures[n]) for n, item in zip(names, items)}
    raw[FUSED], scaled[FUSED] = fuse_probs(raw, weights), fuse_probs(scaled, weights)
    first = items[0]
    if (first.labels >= 0).any():
        labels, source = first.labels, LABELS
    elif (first.hidden_labels >= 0).any():
        labels, source = first.hidden_labels, HIDDEN_LABELS
    else:
        labels, source = first.labels, None
    mask = labels >= 0
    metrics = {}
    if source is not None:
        metrics = {m: (evaluate(raw[m][mask], labels[mask]), evaluate(scaled[m][mask], labels[mask])) for m in raw}
    return SplitResult(name, first.clip_ids, raw, scaled, labels, source, metrics)


def fuse_runs(run_dirs: Sequence[str | Path], *, weights: Sequence[float] | None = None, search: bool = False,
              step: float | None = None, temperature: bool = True, calibration_split: str = CALIBRATION_SPLIT,
              test_split: str = "test") -> Fusion:
    """Fits temperatures (and searched weights) on ``calibration_split`` and fuses it and ``test_split``.

    Args:
        run_dirs: training run directories, one per modality (more are allowed, e.g. two seeds).
        weights: one weight per run (normalised), or None for uniform weights or ``search``.
        search: search the weights on the calibration split (exclusive with ``weights``).
        step: grid step of the weight search (default :func:`default_step`).
        temperature: fit one temperature per run; False keeps T = 1.
    """
    if not run_dirs:
        raise ValueError("give at least one run directory")
    if weights is not None and search:
        raise ValueError("give either explicit weights or a weight search, not both")
    runs = [read_run(d) for d in run_dirs]
    classes = check_same_classes(runs)
    names = run_names(runs)
    if FUSED in names:
        raise ValueError(f"a run's modality is called {FUSED!r}, which names the fused model; rename it")
    splits = {}
    for split in (calibration_split, test_split):
        items = align_logits([_load_split(r, split) for r in runs])
        for item in items:
            if item.num_classes != len(classes):
                raise ValueError(f"{item.path} has {item.num_classes} logit columns but its run.json lists "
                                 f"{len(classes)} classes")
        splits[split] = items
    fit = splits[calibration_split]
    mask = fit[0].labels >= 0
    if not mask.any():
        raise ValueError(f"split {calibration_split!r} ({fit[0].path}) has no labelled clips; temperatures, weights "
                         "and the report need a labelled calibration split")
    temps = {n: fit_temperature(v.logits[mask], v.labels[mask]) if temperature else 1.0 for n, v in zip(names, fit)}
    if weights is not None:
        if len(weights) != len(names):
            raise ValueError(f"{len(weights)} weights for {len(names)} runs; give one weight per run, in run order")
        chosen, mode = normalise_weights(dict(zip(names, weights))), "given"
    elif search:
        step = default_step(len(names)) if step is None else step
        scaled = {n: softmax(v.logits[mask], temps[n]) for n, v in zip(names, fit)}
        chosen, mode = search_weights(scaled, fit[0].labels[mask], step), "searched"
    else:
        chosen, mode = dict.fromkeys(names, 1.0 / len(names)), "uniform"
    return Fusion(
        runs=runs, names=names, classes=classes, temperatures=temps, temperature_fitted=temperature,
        weights=chosen, weight_mode=mode, weight_step=step if search else None,
        calibration=_split_result(calibration_split, fit, names, temps, chosen),
        test=_split_result(test_split, splits[test_split], names, temps, chosen), background=background_class(runs[0]),
    )


def _load_split(run: Run, split: str) -> Logits:
    try:
        return load_logits(run.path, split)
    except FileNotFoundError as error:
        if split != CALIBRATION_SPLIT:
            raise
        raise FileNotFoundError(
            f"{error}; the run has no calibration split (trained with --calib-fraction 0, or by an mgfast that "
            "did not carve one): retrain it, or pass --calibration-split val, whose temperatures come out too "
            "sharp because checkpoints were chosen on it") from None


def write_outputs(fusion: Fusion, out: str | Path) -> dict[str, Path]:
    """Writes ``submission.csv`` (test split) and ``fused.npz`` into ``out``; returns their paths by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test = fusion.test
    submission = out / "submission.csv"
    write_submission(submission, test.clip_ids.tolist(), fusion.codes(test.scaled[FUSED]).tolist())
    npz = out / "fused.npz"
    with atomic_path(npz) as tmp, tmp.open("wb") as f:
        np.savez(
            f, clip_ids=test.clip_ids, probs=test.scaled[FUSED].astype(np.float32),
            modalities=np.asarray(fusion.names, dtype=str),
            modality_probs=np.stack([test.scaled[n] for n in fusion.names]).astype(np.float32),
            temperatures=np.asarray([fusion.temperatures[n] for n in fusion.names]),
            weights=np.asarray([fusion.weights[n] for n in fusion.names]),
            class_codes=np.asarray([c.code for c in fusion.classes], dtype=np.int64),
            background_class=np.int64(-1 if fusion.background is None else fusion.background),
        )
    return {"submission": submission, "fused": npz}


@dataclass(frozen=True)
class FusionParams:
    """What a fused directory's ``fused.npz`` says about how to fuse new logits of the same runs."""

    path: Path
    temperatures: dict[str, float]  # per run name (:func:`mgfast.runs.run_names`)
    weights: dict[str, float]
    class_codes: list[int]
    background: int | None

    def fuse(self, logits: Mapping[str, np.ndarray]) -> np.ndarray:
        """``sum_m w_m softmax(z_m / T_m)`` of logits ``[N, C]`` per run name (every fused run must be given)."""
        if set(logits) != set(self.weights):
            raise ValueError(f"{self.path} fuses {', '.join(sorted(self.weights))} but the runs given are "
                             f"{', '.join(sorted(logits))}; pass the runs that were fused (in any order)")
        return fuse_probs({n: softmax(z, self.temperatures[n]) for n, z in logits.items()}, self.weights)


def read_fusion_params(fused_dir: str | Path) -> FusionParams:
    """The temperatures, weights and classes that :func:`write_outputs` recorded in ``fused_dir/fused.npz``."""
    path = Path(fused_dir) / "fused.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; pass the --out folder of `mgfast fuse` (it writes fused.npz)")
    keys = ("modalities", "temperatures", "weights", "class_codes", "background_class")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in keys if k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # numpy reads a non-npz file as a pickle: ValueError
        raise ValueError(f"{path}: not a readable .npz file ({error}); rerun `mgfast fuse` to rewrite it") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)}; rerun `mgfast fuse` to rewrite it")
    names, temps, weights, codes, background = (arrays[k] for k in keys)
    if not (len(names) == len(temps) == len(weights)) or len(names) == 0:
        raise ValueError(f"{path}: modalities, temperatures and weights must have one entry per run")
    names = [str(n) for n in names]
    return FusionParams(path, dict(zip(names, map(float, temps))), dict(zip(names, map(float, weights))),
                        [int(c) for c in codes], None if int(background) < 0 else int(background))
