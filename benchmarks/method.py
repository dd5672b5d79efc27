"""The method's four claims, measured with paired differences and intervals on the benchmark corpus.

    python benchmarks/method.py --out DIR [--seeds 0-4] [--quick] [--report]

Per training seed, on one fixed pose-only corpus (``mgfast synth --profile benchmark``, docs/benchmark.md):

- long tail, joint branch: {CE, sqrt class weights} x {OSE off, on (0.1)} and OSE weights 0.5 and 1 with sqrt;
- CMPL against its controls, each with the same fine-tuning schedule (``mgfast adapt --teaching``): continued
  training on the labelled clips, self-training, oracle labels on CMPL's clips, CMPL; sources: the joint and
  heatmap runs of the method's recipe (sqrt + OSE 0.1); one round, so no teacher was trained on the
  pseudo-labels of the clips it labels;
- fusion of those two runs: the best single branch (chosen on validation macro-F1), uniform soft voting and
  searched weights, each with and without temperatures (fitted on the calibration split).

Every arm of a seed is a run directory under DIR/seed-<s>/ (resumable: a finished run is kept, an interrupted
one continues); each seed's scores go to DIR/seeds/seed-<s>.json, so seeds can be sharded over processes or
machines that share DIR (``--seeds 0,2,4`` here, ``--seeds 1,3`` there). ``--report`` (also run at the end)
reads every seed file and writes DIR/results.json and DIR/results.md: per arm the mean over seeds, per claim
the mean paired difference with a 95 % interval over seeds and one over test clips (bootstrap), the smallest
effect the setup could detect, and a verdict. Nothing here is tuned on the reported seeds: the recipes below
and the corpus's parameters were fixed before any seed was run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgfast.adapt import AdaptConfig, adapt
from mgfast.calibration import softmax
from mgfast.fuse import FUSED, fuse_runs
from mgfast.io.atomic import atomic_write_text
from mgfast.io.dataset import Dataset
from mgfast.metrics import brier_score, class_scores, expected_calibration_error, macro_f1, nll
from mgfast.runs import load_logits, logits_path
from mgfast.stats import Interval, bootstrap_interval, seed_interval
from mgfast.synth.benchmark import CALIB_FRACTION, SPLIT_SEED, write_benchmark_dataset
from mgfast.train import make_config, train

CORPUS_SEED = 0  # one corpus for every training seed: differences are paired on the same test clips
RECIPES = {  # the tiny CPU presets with larger batches and fewer epochs, sized to fit the time budget on
    # 2 cores (measured on an unreported seed); fixed before any reported seed was run
    "joint": dict(preset="tiny", epochs=6, batch_size=16, lr_batch=16, num_clips=1),
    "heatmap": dict(preset="tiny", epochs=4, batch_size=16, lr_batch=16, num_clips=1),
}
QUICK = {"joint": dict(epochs=1, precise_bn_batches=2), "heatmap": dict(epochs=1, precise_bn_batches=2)}
LONG_TAIL_ARMS = {  # name -> (class weights, OSE weight)
    "ce": ("none", 0.0), "sqrt": ("sqrt", 0.0), "ce+ose": ("none", 0.1), "sqrt+ose": ("sqrt", 0.1),
    "sqrt+ose0.5": ("sqrt", 0.5), "sqrt+ose1": ("sqrt", 1.0),
}
METHOD_ARM = "sqrt+ose"  # the method's recipe: the sources of adaptation and fusion
TEACHINGS = ("none", "self", "oracle", "cross")
CMPL = dict(tau=0.7, rounds=1, lr_scale=0.2)  # mgfast's adapt defaults, one round
ECE_BINS = 10
NON_INFERIORITY = 0.02  # micro-F1 may drop at most 2 points for "without compromising overall recognition"


# ---- scores of one model on the test clips


def tail_classes(counts: np.ndarray) -> np.ndarray:
    """The rarest third of the classes by training clips (ties: lower index first)."""
    order = np.lexsort((np.arange(len(counts)), counts))
    return np.sort(order[: max(1, len(counts) // 3)])


def prior_weights(dataset: Path, num_classes: int) -> np.ndarray:
    """Per-class weights that give the test clips the training split's class prior (the corpus's test split is
    flatter than training so that tail recall can be measured; see docs/benchmark.md)."""
    info = json.loads((dataset / "benchmark.json").read_text())
    return np.asarray(info.get("test_prior_weights", [1.0] * num_classes), dtype=np.float64)


def _micro(probs, labels, tail, weights) -> float:
    return float((probs.argmax(1) == labels).mean())


def _micro_prior(probs, labels, tail, weights) -> float:
    w = weights[labels]
    return float((w * (probs.argmax(1) == labels)).sum() / w.sum())


def _macro(probs, labels, tail, weights) -> float:
    return macro_f1(labels, probs.argmax(1), probs.shape[1])


def _tail_recall(probs, labels, tail, weights) -> float:
    return float(class_scores(labels, probs.argmax(1), probs.shape[1]).recall[tail].mean())


METRICS: dict[str, Callable[..., float]] = {
    "micro_f1": _micro, "micro_f1_prior": _micro_prior, "macro_f1": _macro, "tail_recall": _tail_recall,
    "nll": lambda p, y, t, w: nll(p, y), "brier": lambda p, y, t, w: brier_score(p, y),
    "ece": lambda p, y, t, w: expected_calibration_error(p, y, ECE_BINS),
}
"""Score name -> f(probs, labels, tail classes, class weights of the training prior)."""


def scores(probs: np.ndarray, labels: np.ndarray, tail: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    return {name: f(probs, labels, tail, weights) for name, f in METRICS.items()}


# ---- one seed


@dataclass
class Seed:
    out: Path
    dataset: Path
    seed: int
    quick: bool

    def train(self, name: str, modality: str, **overrides) -> Path:
        run = self.out / name
        if logits_path(run, "test").is_file():
            return run
        recipe = {**RECIPES[modality], **(QUICK[modality] if self.quick else {}), **overrides}
        config = make_config(self.dataset, modality, run, seed=self.seed, workers=0, progress=False,
                             calib_fraction=CALIB_FRACTION, split_seed=SPLIT_SEED,
                             resume=(run / "run.json").is_file(), **recipe)
        return train(config)

    def adapt(self, teaching: str, sources: list[Path]) -> dict[str, Path]:
        config = AdaptConfig(teaching=teaching, **CMPL, epochs=1 if self.quick else None)
        return adapt(sources, self.out / f"adapt-{teaching}", config, log=lambda _: None)


def test_probs(run: Path) -> tuple[np.ndarray, np.ndarray]:
    logits = load_logits(run, "test")
    return softmax(logits.logits), logits.hidden_labels


def run_seed(root: Path, dataset: Path, seed: int, quick: bool, log: Callable[[str], None]) -> dict:
    """Trains and scores every arm of one seed; returns its record (per-arm test probabilities saved beside)."""
    s = Seed(root / f"seed-{seed}", dataset, seed, quick)
    corpus = Dataset(dataset)
    counts = np.bincount([c.label for c in corpus.clips if c.split == "train"], minlength=corpus.num_classes)
    tail = tail_classes(counts)
    probs: dict[str, np.ndarray] = {}
    labels = None
    for name, (weights, ose) in LONG_TAIL_ARMS.items():
        log(f"seed {seed}: joint {name}")
        probs[f"joint/{name}"], labels = test_probs(s.train(f"joint-{name}", "joint", class_weights=weights,
                                                            ose_weight=ose))
    weights, ose = LONG_TAIL_ARMS[METHOD_ARM]
    log(f"seed {seed}: heatmap {METHOD_ARM}")
    sources = [s.out / f"joint-{METHOD_ARM}", s.train(f"heatmap-{METHOD_ARM}", "heatmap", class_weights=weights,
                                                      ose_weight=ose)]
    probs[f"heatmap/{METHOD_ARM}"] = test_probs(sources[1])[0]
    pseudo = {}
    for teaching in TEACHINGS:
        log(f"seed {seed}: adapt --teaching {teaching}")
        final = s.adapt(teaching, sources)
        for branch, run in final.items():
            probs[f"adapt-{teaching}/{branch}"] = test_probs(run)[0]
        log_file = json.loads((s.out / f"adapt-{teaching}" / "round-1" / "log.json").read_text())
        pseudo[teaching] = {b: {k: v for k, v in e.items() if k in ("selected", "pseudo_label_accuracy")}
                            for b, e in log_file["modalities"].items()}
        fused = fuse_runs(list(final.values()))
        probs[f"adapt-{teaching}/fusion+T"] = fused.test.scaled[FUSED]
    for search in (False, True):
        for temperature in (False, True):
            fusion = fuse_runs(sources, search=search, temperature=temperature)
            name = f"fusion/{'searched' if search else 'uniform'}{'+T' if temperature else ''}"
            probs[name] = fusion.test.scaled[FUSED]
            if not search:
                val = {b: macro_f1(load_logits(r, 'val').labels, load_logits(r, 'val').logits.argmax(1),
                                   len(counts)) for b, r in zip(fusion.names, sources)}
                best = max(val, key=val.get)
                probs[f"fusion/best-single{'+T' if temperature else ''}"] = fusion.test.scaled[best]
    weights = prior_weights(dataset, len(counts))
    record = {"seed": seed, "labels": labels.tolist(), "tail": tail.tolist(), "pseudo": pseudo,
              "scores": {arm: scores(p, labels, tail, weights) for arm, p in probs.items()}}
    np.savez_compressed(root / "seeds" / f"seed-{seed}.npz", **{arm: p.astype(np.float32) for arm, p in probs.items()})
    return record


# ---- claims


@dataclass(frozen=True)
class Claim:
    """``better`` is ``arm`` - ``baseline`` on ``metric`` (negated for losses); ``kind`` says how to judge it:
    ``superior`` (the claim is that it helps) or ``non-inferior`` (it must not cost more than the margin)."""

    name: str
    arm: str
    baseline: str
    metric: str
    kind: str = "superior"


CLAIMS = (
    Claim("sqrt weighting lifts the tail", "joint/sqrt", "joint/ce", "tail_recall"),
    Claim("sqrt weighting lifts macro-F1", "joint/sqrt", "joint/ce", "macro_f1"),
    Claim("sqrt weighting keeps micro-F1 (training prior)", "joint/sqrt", "joint/ce", "micro_f1_prior", "non-inferior"),
    Claim("OSE lifts macro-F1 (with sqrt)", "joint/sqrt+ose", "joint/sqrt", "macro_f1"),
    Claim("OSE lifts the tail (with sqrt)", "joint/sqrt+ose", "joint/sqrt", "tail_recall"),
    Claim("OSE keeps micro-F1 (with sqrt, training prior)", "joint/sqrt+ose", "joint/sqrt", "micro_f1_prior",
          "non-inferior"),
    Claim("OSE lifts macro-F1 (with CE)", "joint/ce+ose", "joint/ce", "macro_f1"),
    Claim("OSE weight 0.5 vs 0.1", "joint/sqrt+ose0.5", "joint/sqrt+ose", "macro_f1"),
    Claim("OSE weight 1 vs 0.1", "joint/sqrt+ose1", "joint/sqrt+ose", "macro_f1"),
    Claim("CMPL beats continued training (joint)", "adapt-cross/joint", "adapt-none/joint", "macro_f1"),
    Claim("CMPL beats continued training (heatmap)", "adapt-cross/heatmap", "adapt-none/heatmap", "macro_f1"),
    Claim("CMPL beats self-training (joint)", "adapt-cross/joint", "adapt-self/joint", "macro_f1"),
    Claim("CMPL beats self-training (heatmap)", "adapt-cross/heatmap", "adapt-self/heatmap", "macro_f1"),
    Claim("CMPL vs oracle labels (joint)", "adapt-cross/joint", "adapt-oracle/joint", "macro_f1"),
    Claim("CMPL lifts the fused model", "adapt-cross/fusion+T", "adapt-none/fusion+T", "macro_f1"),
    Claim("fusion beats the best single branch", "fusion/uniform+T", "fusion/best-single+T", "micro_f1"),
    Claim("fusion beats the best single branch (macro)", "fusion/uniform+T", "fusion/best-single+T", "macro_f1"),
    Claim("temperatures lower the fused NLL", "fusion/uniform+T", "fusion/uniform", "nll"),
    Claim("temperatures lower the fused ECE", "fusion/uniform+T", "fusion/uniform", "ece"),
    Claim("searched weights vs uniform (NLL)", "fusion/searched+T", "fusion/uniform+T", "nll"),
)
LOSSES = {"nll", "brier", "ece"}




def judge(claim: Claim, seeds: Interval, clips: Interval) -> str:
    """Supported / contradicted when both intervals agree; inconclusive otherwise (a difference inside the
    noise of either). Non-inferiority: both lower bounds above -margin."""
    if claim.kind == "non-inferior":
        if seeds.low > -NON_INFERIORITY and clips.low > -NON_INFERIORITY:
            return "supported"
        if seeds.high < -NON_INFERIORITY and clips.high < -NON_INFERIORITY:
            return "contradicted"
        return "inconclusive"
    if seeds.low > 0 and clips.low > 0:
        return "supported"
    if seeds.high < 0 and clips.high < 0:
        return "contradicted"
    return "inconclusive"


def analyse(root: Path, draws: int = 1000) -> dict:
    """Every arm's scores recomputed from the saved test probabilities, and the paired claims."""
    records = [json.loads(p.read_text()) for p in sorted((root / "seeds").glob("seed-*.json"))]
    if len(records) < 2:
        raise SystemExit(f"{root / 'seeds'}: {len(records)} seed file(s); the intervals need two or more seeds")
    arrays = [dict(np.load(root / "seeds" / f"seed-{r['seed']}.npz")) for r in records]
    labels, tail = np.asarray(records[0]["labels"]), np.asarray(records[0]["tail"])
    weights = prior_weights(root / "corpus", int(labels.max()) + 1)
    for record, a in zip(records, arrays):
        record["scores"] = {arm: scores(p, labels, tail, weights) for arm, p in a.items()}
    arms = sorted(records[0]["scores"])
    summary = {arm: {m: float(np.mean([r["scores"][arm][m] for r in records])) for m in records[0]["scores"][arm]}
               for arm in arms}
    claims = []
    for claim in CLAIMS:
        sign = -1.0 if claim.metric in LOSSES else 1.0
        diffs = [sign * (r["scores"][claim.arm][claim.metric] - r["scores"][claim.baseline][claim.metric])
                 for r in records]
        over_seeds = seed_interval(diffs)

        def paired(rows: np.ndarray, claim=claim, sign=sign) -> float:
            def metric(arm: str, a: dict) -> float:
                return METRICS[claim.metric](a[arm][rows], labels[rows], tail, weights)

            return float(np.mean([sign * (metric(claim.arm, a) - metric(claim.baseline, a)) for a in arrays]))

        over_clips = bootstrap_interval(paired, len(labels), draws=draws, seed=0)
        claims.append({"claim": claim.name, "arm": claim.arm, "baseline": claim.baseline, "metric": claim.metric,
                       "kind": claim.kind, "seeds": vars(over_seeds) | {"detectable": over_seeds.detectable},
                       "clips": vars(over_clips) | {"detectable": over_clips.detectable},
                       "verdict": judge(claim, over_seeds, over_clips)})
    pseudo = {t: {b: {k: float(np.mean([r["pseudo"][t][b][k] for r in records])) for k in records[0]["pseudo"][t][b]}
                  for b in records[0]["pseudo"][t]} for t in records[0]["pseudo"]}
    return {"seeds": [r["seed"] for r in records], "test_clips": int(len(labels)), "tail_classes": tail.tolist(),
            "arms": summary, "claims": claims, "pseudo_sets": pseudo}


def markdown(result: dict, header: str) -> str:
    lines = [header, "", f"Seeds {result['seeds']}, {result['test_clips']} test clips, tail classes "
             f"{result['tail_classes']}. Differences are `arm - baseline` (for NLL and ECE `baseline - arm`, so "
             "positive is better), in points for scores; 95 % intervals over seeds (t) and over test clips "
             "(paired bootstrap); *detectable* is the smallest effect found with 80 % power (larger of the two).",
             "", "| claim | metric | difference | over seeds | over clips | detectable | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in result["claims"]:
        scale = 1.0 if c["metric"] in LOSSES else 100.0
        fmt = (lambda v: f"{v:+.3f}") if c["metric"] in LOSSES else (lambda v: f"{100 * v:+.1f}")
        detect = max(c["seeds"]["detectable"], c["clips"]["detectable"]) * scale
        lines.append(f"| {c['claim']} | {c['metric']} | {fmt(c['seeds']['mean'])} | [{fmt(c['seeds']['low'])}, "
                     f"{fmt(c['seeds']['high'])}] | [{fmt(c['clips']['low'])}, {fmt(c['clips']['high'])}] | "
                     f"{detect:.3g} | {c['verdict']} |")
    lines += ["", "| arm | micro-F1 | micro-F1 (training prior) | macro-F1 | tail recall | NLL | Brier | ECE |",
              "|---|---|---|---|---|---|---|---|"]
    for arm, s in result["arms"].items():
        lines.append(f"| {arm} | {100 * s['micro_f1']:.1f} | {100 * s['micro_f1_prior']:.1f} | "
                     f"{100 * s['macro_f1']:.1f} | {100 * s['tail_recall']:.1f} | {s['nll']:.3f} | {s['brier']:.3f} | "
                     f"{s['ece']:.3f} |")
    lines += ["", "| teaching | branch | pseudo-labels | their accuracy |", "|---|---|---|---|"]
    for teaching, branches in result["pseudo_sets"].items():
        for branch, e in branches.items():
            acc = f"{100 * e['pseudo_label_accuracy']:.1f}%" if "pseudo_label_accuracy" in e else "-"
            lines.append(f"| {teaching} | {branch} | {e['selected']:.0f} | {acc} |")
    return "\n".join(lines) + "\n"


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results folder (resumable, shared by shards)")
    parser.add_argument("--seeds", default="0-4", help="training seeds, e.g. 0-4 or 0,2,4 (default 0-4)")
    parser.add_argument("--quick", action="store_true", help="tiny corpus and epochs: every code path in CI")
    parser.add_argument("--report", action="store_true", help="only aggregate the seed files already in --out")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap resamples (default 1000)")
    args = parser.parse_args(argv)
    root = args.out.resolve()
    (root / "seeds").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not args.report:
        dataset = write_benchmark_dataset(root / "corpus", seed=CORPUS_SEED, quick=args.quick)
        for seed in parse_seeds(args.seeds):
            seed_file = root / "seeds" / f"seed-{seed}.json"
            if seed_file.is_file():
                print(f"seed {seed}: finished earlier, kept", flush=True)
                continue
            t = time.perf_counter()
            record = run_seed(root, dataset, seed, args.quick, log=lambda m: print(m, flush=True))
            record["seconds"] = time.perf_counter() - t
            atomic_write_text(seed_file, json.dumps(record) + "\n")
            print(f"seed {seed}: done in {record['seconds']:.0f} s", flush=True)
    if len(list((root / "seeds").glob("seed-*.json"))) < 2:
        print("fewer than two seeds finished: no intervals yet (run more seeds, then --report)")
        return 0
    result = analyse(root, draws=args.draws)
    command = " ".join(["benchmarks/method.py", *(sys.argv[1:] if argv is None else argv)])
    header = (f"Method benchmark{' (quick)' if args.quick else ''}: {platform.machine()}, {os.cpu_count()} cores, "
              f"python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}; `{command}`")
    atomic_write_text(root / "results.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(root / "results.md", markdown(result, header))
    print(markdown(result, header))
    print(f"{time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
