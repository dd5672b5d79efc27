"""benchmarks/method.py --quick: every arm, the paired analysis and the report, on the tiny benchmark corpus."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mgfast.stats import Interval

SPEC = importlib.util.spec_from_file_location("method", Path(__file__).parents[1] / "benchmarks" / "method.py")
method = importlib.util.module_from_spec(SPEC)
sys.modules["method"] = method  # its dataclasses look their module up by name
SPEC.loader.exec_module(method)


def test_tail_classes_are_the_rarest_third():
    assert method.tail_classes(np.array([50, 5, 30, 7, 9, 100])).tolist() == [1, 3]
    assert method.tail_classes(np.array([4, 4, 4])).tolist() == [0]


@pytest.mark.parametrize(
    "kind,seeds,clips,verdict",
    [
        ("superior", (0.01, 0.03), (0.005, 0.02), "supported"),
        ("superior", (-0.01, 0.03), (0.005, 0.02), "inconclusive"),
        ("superior", (-0.05, -0.01), (-0.04, -0.002), "contradicted"),
        ("non-inferior", (-0.015, 0.01), (-0.01, 0.02), "supported"),
        ("non-inferior", (-0.03, 0.01), (-0.01, 0.02), "inconclusive"),
        ("non-inferior", (-0.09, -0.03), (-0.08, -0.025), "contradicted"),
    ],
)
def test_verdicts_need_both_intervals(kind, seeds, clips, verdict):
    claim = method.Claim("c", "a", "b", "macro_f1", kind)
    to = lambda lo_hi: Interval(sum(lo_hi) / 2, lo_hi[0], lo_hi[1], 0.01)  # noqa: E731
    assert method.judge(claim, to(seeds), to(clips)) == verdict


def test_quick_benchmark_runs_every_arm_and_resumes(tmp_path, capsys):
    out = tmp_path / "bench"
    assert method.main(["--out", str(out), "--quick", "--seeds", "0-1", "--draws", "50"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["seeds"] == [0, 1]
    assert {c["claim"] for c in result["claims"]} == {c.name for c in method.CLAIMS}
    for claim in result["claims"]:
        assert claim["verdict"] in ("supported", "contradicted", "inconclusive")
        assert claim["seeds"]["low"] <= claim["seeds"]["mean"] <= claim["seeds"]["high"]
        assert claim["clips"]["low"] <= claim["clips"]["high"]
    arms = set(result["arms"])
    assert {f"joint/{a}" for a in method.LONG_TAIL_ARMS} <= arms
    assert {f"adapt-{t}/{b}" for t in method.TEACHINGS for b in ("joint", "heatmap")} <= arms
    assert {"fusion/best-single", "fusion/uniform+T", "fusion/searched"} <= arms
    assert set(result["pseudo_sets"]) == set(method.TEACHINGS)
    assert "| claim |" in (out / "results.md").read_text()
    capsys.readouterr()
    method.main(["--out", str(out), "--quick", "--seeds", "0-1", "--draws", "50"])
    assert capsys.readouterr().out.count("finished earlier, kept") == 2
