"""Cross-modal pseudo-label selection (CMPL, DESIGN §7): which unlabelled clips join a modality's training set,
and with which label.

For a target modality ``m`` and every unlabelled clip:

1. **Teacher.** The other modalities ("teachers") with a positive weight each give temperature-scaled
   probabilities ``softmax(z_k / T_k)``, computed from the untempered ``softmax(z_k)`` as ``p^(1/T)``
   renormalised. The teacher distribution is their weighted mean, weights renormalised over the teachers.
   ``m`` itself never takes part (leave-one-out), so its own predictions cannot confirm themselves. With two
   modalities the teacher is the single other one.
2. **Pseudo label** = arg-max of the teacher distribution (ties: the lowest class index).
3. **Agreement.** Each teacher votes for its own arg-max. ``agree="all"``: every teacher's vote equals the
   pseudo label. ``agree="majority"``: strictly more than half of the teachers vote for the pseudo label
   (with two teachers both must agree, with three two of them; with one teacher both rules hold trivially).
4. **Confidence** = the teacher distribution's maximum; the clip is kept when it is ``>= tau``.
5. **Cap** (optional): per pseudo class, keep the ``per_class_cap`` most confident clips (ties: lower clip
   index first), so that frequent classes do not swamp the pseudo-set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mgfast.calibration import temper

AGREE_RULES = ("all", "majority")


@dataclass(frozen=True)
class PseudoLabels:
    """Selected clips: ``indices`` (int64, ascending, rows of the probability arrays), their pseudo
    ``labels`` (int64) and the teacher ``confidence`` (float64)."""

    indices: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.size)


def _check_probs(probs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(probs, Mapping) or len(probs) < 2:
        raise ValueError("pseudo-labelling needs probabilities from at least two modalities (a target and a teacher)")
    arrays = {name: np.asarray(p, dtype=np.float64) for name, p in probs.items()}
    shape = next(iter(arrays.values())).shape
    for name, p in arrays.items():
        if p.ndim != 2 or p.shape[1] == 0:
            raise ValueError(f"probs[{name!r}] must be [N, C], got shape {p.shape}")
        if p.shape != shape:
            raise ValueError(f"probs[{name!r}] has shape {p.shape} but another modality has {shape}; "
                             "give every modality's probabilities on the same clips, in the same order")
    return arrays


def _per_modality(what: str, values: Mapping[str, float] | None, names: list[str], default: float,
                  allow_zero: bool) -> dict[str, float]:
    if values is None:
        return dict.fromkeys(names, default)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"{what} lacks modality(ies) {', '.join(missing)}")
    out = {n: values[n] for n in names}
    for name, v in out.items():
        ok = isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or v < 0 or (v == 0 and not allow_zero):
            bound = "non-negative" if allow_zero else "positive"
            raise ValueError(f"{what}[{name!r}] must be a finite {bound} number, got {v!r}")
    return {n: float(v) for n, v in out.items()}


def check_teacher_weights(weights: Mapping[str, float] | None, names: list[str]) -> None:
    """Raises ValueError unless ``weights`` (None: equal) gives every modality in ``names``, and only those, a
    finite non-negative weight: checked before an adaptation writes anything."""
    if weights is None:
        return
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"weights name modality(ies) {', '.join(unknown)} that are not among the runs "
                         f"({', '.join(names)})")
    _per_modality("weights", weights, names, 1.0, allow_zero=True)


def teacher_probs(probs: Mapping[str, np.ndarray], target: str, *, temperatures: Mapping[str, float] | None = None,
                  weights: Mapping[str, float] | None = None) -> tuple[np.ndarray, list[str]]:
    """The leave-one-out teacher distribution for ``target`` (float64 ``[N, C]``) and the teaching modalities
    (those other than ``target`` with a positive weight). ``temperatures`` / ``weights`` default to 1."""
    arrays = _check_probs(probs)
    if target not in arrays:
        raise ValueError(f"target modality {target!r} is not among {', '.join(arrays)}")
    others = [n for n in arrays if n != target]
    temps = _per_modality("temperatures", temperatures, others, 1.0, allow_zero=False)
    w = _per_modality("weights", weights, others, 1.0, allow_zero=True)
    teachers = [n for n in others if w[n] > 0]
    if not teachers:
        raise ValueError(f"every modality other than {target!r} has weight 0: nothing can teach it")
    total = sum(w[n] for n in teachers)
    teacher = sum((w[n] / total) * temper(arrays[n], temps[n]) for n in teachers)
    return teacher, teachers


def select_pseudo_labels(probs: Mapping[str, np.ndarray], target: str, *, tau: float,
                         temperatures: Mapping[str, float] | None = None, weights: Mapping[str, float] | None = None,
                         agree: str = "all", per_class_cap: int | None = None) -> PseudoLabels:
    """The pseudo-set of modality ``target`` (see the module docstring for the rules).

    Args:
        probs: modality -> untempered probabilities ``[N, C]`` on the same unlabelled clips (``target``
            included, though its values are never read).
        target: the modality that will be fine-tuned on the selected clips.
        tau: minimum teacher confidence, in ``[0, 1]``.
        temperatures, weights: modality -> value; default 1 each. Missing teachers are an error.
        agree: ``"all"`` or ``"majority"``.
        per_class_cap: None (no cap) or the most clips kept per pseudo class.
    """
    if agree not in AGREE_RULES:
        raise ValueError(f"agree must be one of {', '.join(AGREE_RULES)}, got {agree!r}")
    _check_tau_and_cap(tau, per_class_cap)
    teacher, teachers = teacher_probs(probs, target, temperatures=temperatures, weights=weights)
    label = teacher.argmax(1)
    confidence = teacher.max(1)
    votes = sum((np.asarray(probs[n]).argmax(1) == label).astype(np.int64) for n in teachers)
    agreed = votes == len(teachers) if agree == "all" else 2 * votes > len(teachers)
    return _keep(np.flatnonzero(agreed & (confidence >= tau)), label, confidence, per_class_cap)


def select_own_labels(probs: np.ndarray, *, tau: float, temperature: float = 1.0,
                      per_class_cap: int | None = None) -> PseudoLabels:
    """Self-training's pseudo-set, the control CMPL is measured against: a modality's own tempered arg-max on
    the clips where its own confidence is ``>= tau`` (steps 2, 4 and 5 above with the modality as its teacher)."""
    _check_tau_and_cap(tau, per_class_cap)
    own = temper(np.asarray(probs, dtype=np.float64), temperature)
    label, confidence = own.argmax(1), own.max(1)
    return _keep(np.flatnonzero(confidence >= tau), label, confidence, per_class_cap)


def no_labels() -> PseudoLabels:
    """The empty pseudo-set (continued training on the labelled clips alone)."""
    return PseudoLabels(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


def _check_tau_and_cap(tau: float, per_class_cap: int | None) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must be a number in [0, 1], got {tau!r}")
    if per_class_cap is not None and (isinstance(per_class_cap, bool) or not isinstance(per_class_cap, int)
                                      or per_class_cap < 0):
        raise ValueError(f"per_class_cap must be None or a non-negative int, got {per_class_cap!r}")


def _keep(keep: np.ndarray, label: np.ndarray, confidence: np.ndarray, per_class_cap: int | None) -> PseudoLabels:
    """The clips ``keep`` (rows) after the per-class cap: most confident first, then lower index."""
    if per_class_cap is not None:
        ranked = keep[np.lexsort((keep, -confidence[keep]))]
        rank_in_class = np.zeros(ranked.size, np.int64)
        for c in np.unique(label[ranked]):
            members = label[ranked] == c
            rank_in_class[members] = np.arange(members.sum())
        keep = np.sort(ranked[rank_in_class < per_class_cap])
    return PseudoLabels(keep.astype(np.int64), label[keep].astype(np.int64), confidence[keep])
