"""The fusion report: ``report.md`` with metric tables, and PNG plots (fused confusion matrix and
reliability diagrams before/after temperature scaling) for every split that has labels. It renders a
:class:`mgfast.fuse.Fusion`; whoever fuses (the CLI, the demo) calls :func:`write_report` after
:func:`mgfast.fuse.write_outputs`.

Plots are drawn on matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mgfast.fuse import FUSED, HIDDEN_LABELS, Fusion, SplitResult
from mgfast.io.atomic import atomic_write_text
from mgfast.io.figures import save_figure
from mgfast.metrics import macro_f1
from mgfast.stats import bootstrap_interval

MIN_INTERVAL_CLIPS = 30  # below this a bootstrap over clips is too coarse to report
INTERVAL_DRAWS = 1000


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _models(fusion: Fusion) -> list[str]:
    return [*fusion.names, FUSED]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_confusion(confusion: np.ndarray, codes: list[int], title: str, path: Path) -> Path:
    """Confusion matrix (rows true, columns predicted), coloured by row-normalised rate, counts written in."""
    c = len(codes)
    size = 3.0 + 0.28 * c
    figure = _figure(size + 1.0, size)
    ax = figure.add_subplot()
    support = confusion.sum(1, keepdims=True)
    rate = np.divide(confusion, support, out=np.zeros(confusion.shape), where=support > 0)
    image = ax.imshow(rate, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    for (i, j), n in np.ndenumerate(confusion):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=6,
                    color="white" if rate[i, j] > 0.5 else "black")
    ax.set_xticks(range(c), [str(k) for k in codes], rotation=90, fontsize=7)
    ax.set_yticks(range(c), [str(k) for k in codes], fontsize=7)
    ax.set_xlabel("predicted class code")
    ax.set_ylabel("true class code")
    ax.set_title(title)
    return save_figure(figure, path)


def plot_reliability(split: SplitResult, models: list[str], title: str, path: Path) -> Path:
    """One reliability diagram per model: bin accuracy against bin confidence, before and after scaling."""
    figure = _figure(3.2 * len(models), 3.6)
    axes = figure.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
        for metrics, label, style in ((split.metrics[model][0], "before", "--"), (split.metrics[model][1], "after", "-")):
            r = metrics.reliability
            filled = r.count > 0
            ax.plot(r.confidence[filled], r.accuracy[filled], style, marker="o", markersize=3,
                    label=f"{label} T (ECE {metrics.ece:.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(model)
        ax.legend(fontsize=7, loc="upper left")
    figure.suptitle(title)
    return save_figure(figure, path)


def _split_section(fusion: Fusion, split: SplitResult, out: Path) -> tuple[list[str], dict[str, Path]]:
    models = _models(fusion)
    total = len(split.clip_ids)
    if split.label_source is None:
        return [f"## Split `{split.name}`", "", f"{total} clips, no labels: predictions only.", ""], {}
    lines = [f"## Split `{split.name}`: {split.label_source}", "",
             f"Scored on {split.num_labelled} of {total} clips."]
    if split.label_source == HIDDEN_LABELS:
        lines.append("These labels come with the corpus for evaluation only; no training or fitting step read them.")
    if split is fusion.calibration:
        fitted = "temperatures" if fusion.weight_mode != "searched" else "temperatures and weights"
        lines.append(f"The {fitted} were fitted on this split, so its after-T scores are in-sample.")
    lines.append("")
    rows = []
    for m in models:
        before, after = split.metrics[m]
        rows.append([m, f"{after.micro_f1:.4f}", f"{after.macro_f1:.4f}", f"{before.nll:.4f}", f"{after.nll:.4f}",
                     f"{before.brier:.4f}", f"{after.brier:.4f}", f"{before.ece:.4f}", f"{after.ece:.4f}",
                     f"{after.ece_floor:.4f}"])
    bins = split.metrics[FUSED][1].ece_bins
    lines += _table(["model", "micro-F1 (= accuracy)", "macro-F1", "NLL before T", "NLL after T", "Brier before T",
                     "Brier after T", "ECE before T", "ECE after T", "ECE noise floor"], rows)
    lines += ["F1 and accuracy are computed after temperature scaling; a single modality's arg-max does not "
              "depend on T, the fusion's can. Macro-F1 averages over the classes present in the labels or the "
              f"predictions. NLL and the Brier score are the calibration measures to read. ECE uses {bins} "
              f"equal-width confidence bin{'s' if bins > 1 else ''} (one per 25 clips, at most 15) over "
              f"{split.num_labelled} clips; the noise floor is the mean ECE a perfectly calibrated model with the "
              "same confidences would score, so an ECE near it says nothing.", ""]
    lines += _interval_section(split, models, len(fusion.classes))
    support = split.metrics[FUSED][1].scores.support
    per_class = [[c.code, c.name, int(support[c.index]),
                  *(f"{split.metrics[m][1].scores.f1[c.index]:.3f}" for m in models)] for c in fusion.classes]
    lines += [f"### Per-class F1 (`{split.name}`)", ""]
    lines += _table(["code", "name", "support", *models], per_class)
    codes = [c.code for c in fusion.classes]
    plots = {
        f"confusion_{split.name}": plot_confusion(split.metrics[FUSED][1].confusion, codes,
                                                  f"fusion, {split.name} ({split.label_source})",
                                                  out / f"confusion_{split.name}.png"),
        f"reliability_{split.name}": plot_reliability(split, models, f"reliability, {split.name}",
                                                      out / f"reliability_{split.name}.png"),
    }
    lines += [f"![fusion confusion matrix, {split.name}]({plots[f'confusion_{split.name}'].name})", "",
              f"![reliability diagrams, {split.name}]({plots[f'reliability_{split.name}'].name})", ""]
    return lines, plots


def _background_note(fusion: Fusion) -> str:
    if fusion.background is None:
        return ""
    name = fusion.classes[fusion.background].name
    return (f", the last ({name!r}, code {fusion.classes[fusion.background].code}) meaning no gesture: the scores "
            "below count it like any class, the submission takes the arg-max over the gesture classes only")


def _interval_section(split: SplitResult, models: list[str], num_classes: int) -> list[str]:
    """95 % bootstrap intervals over the split's clips of each model's F1, and of the fusion's gain over each
    modality (paired: both scored on the same resampled clips)."""
    mask = split.labels >= 0
    n = int(mask.sum())
    if n < MIN_INTERVAL_CLIPS:
        return [f"With {n} labelled clips (fewer than {MIN_INTERVAL_CLIPS}) no intervals are given; every score "
                "above is inside a wide noise band.", ""]
    labels = split.labels[mask]
    predicted = {m: split.scaled[m][mask].argmax(1) for m in models}

    def score(m: str, rows: np.ndarray, macro: bool) -> float:
        y, p = labels[rows], predicted[m][rows]
        return macro_f1(y, p, num_classes) if macro else float((y == p).mean())

    def interval(statistic, signed: bool = True) -> str:
        iv = bootstrap_interval(statistic, n, draws=INTERVAL_DRAWS, seed=0)
        f = "+.3f" if signed else ".3f"
        return f"{iv.mean:{f}} [{iv.low:{f}}, {iv.high:{f}}]"

    rows = []
    for m in models:
        own = [interval(lambda r, m=m, macro=macro: score(m, r, macro), signed=False) for macro in (False, True)]
        gain = ["", ""] if m == FUSED else [
            interval(lambda r, m=m, macro=macro: score(FUSED, r, macro) - score(m, r, macro)) for macro in (False, True)]
        rows.append([m, *own, *gain])
    return [f"### 95 % intervals (`{split.name}`, bootstrap over {n} clips, {INTERVAL_DRAWS} draws)", "",
            *_table(["model", "micro-F1", "macro-F1", "fusion - model, micro-F1", "fusion - model, macro-F1"], rows),
            "A gain whose interval contains 0 is not a finding.", ""]


def write_report(fusion: Fusion, out: str | Path) -> dict[str, Path]:
    """Writes ``out/report.md`` and its PNGs; returns the paths by kind (``report``, ``confusion_<split>``,
    ``reliability_<split>``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fusion.temperature_fitted:
        temperatures = f"fitted per modality on `{fusion.calibration.name}` by minimising NLL"
    else:
        temperatures = "off (T = 1), so the before/after columns agree"
    lines = ["# Fusion report", "",
             "Temperature-scaled soft voting: P = sum_m w_m softmax(z_m / T_m).", "",
             f"- Temperatures: {temperatures}.",
             f"- Weights: {fusion.weight_source}.",
             f"- Classes: {len(fusion.classes)}{_background_note(fusion)}. Submission: `submission.csv` (split "
             f"`{fusion.test.name}`).", ""]
    lines += _table(["model", "modality", "run", "T", "weight"],
                    [[n, r.modality, str(r.path.resolve()), f"{fusion.temperatures[n]:.4f}", f"{fusion.weights[n]:.3f}"]
                     for n, r in zip(fusion.names, fusion.runs)])
    paths: dict[str, Path] = {}
    for split in fusion.splits:
        section, plots = _split_section(fusion, split, out)
        lines += section
        paths.update(plots)
    report = out / "report.md"
    atomic_write_text(report, "\n".join(lines))
    return {"report": report, **paths}


def summary_table(fusion: Fusion) -> str:
    """A compact plain-text table for the terminal: per model T, weight and the scores on each labelled split
    (after temperature scaling)."""
    splits = [s for s in fusion.splits if s.label_source is not None]
    keys = ("micro-F1", "macro-F1", "NLL", "Brier", "ECE")
    header = ["model", "T", "weight"] + [f"{s.name} {k}" for s in splits for k in keys]
    rows = []
    for m in _models(fusion):
        t = f"{fusion.temperatures[m]:.3f}" if m != FUSED else ""
        w = f"{fusion.weights[m]:.2f}" if m != FUSED else ""
        scores = [f"{v:.4f}" for s in splits for a in [s.metrics[m][1]]
                  for v in (a.micro_f1, a.macro_f1, a.nll, a.brier, a.ece)]
        rows.append([m, t, w, *scores])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])
