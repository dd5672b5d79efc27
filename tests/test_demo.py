"""`mgfast demo` at its smallest size: every stage runs, the report exists, and a rerun resumes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.branches import NAMES as MODALITIES
from mgfast.demo import format_ablation


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--size", "ci", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def table_rows(text: str) -> dict[str, list[float]]:
    """The F1 table (the first of the summary)."""
    rows = {}
    for name, cells in re.findall(r"^\| (\w+) \| (.+) \|$", text.split("Calibration")[0], re.M):
        if name != "model":
            rows[name] = [float(c.strip().rstrip("%")) for c in cells.split("|")]
    return rows


def test_demo_writes_every_stage_and_the_report(demo_dir):
    out, output = demo_dir
    for path in ("videos/synth.json", "data/manifest.csv", "fused-source/report.md", "fused/report.md",
                 "fused/submission.csv", "adapted/latest", "summary.md"):
        assert (out / path).exists(), path
    for modality in MODALITIES:
        assert (out / "runs" / modality / "logits" / "test.npz").is_file()
        assert (out / "adapted" / "latest" / modality / "logits" / "test.npz").is_file()
    rows = table_rows(output)
    assert set(rows) == {*MODALITIES, "fusion"}
    # The last step: one held-out untrimmed video recognised, its segment F1 and timeline printed.
    f1, timeline = re.search(r"segment F1 @ IoU 0\.5 = ([0-9.]+)\nTimeline: (\S+)", output).groups()
    assert 0 <= float(f1) <= 1 and Path(timeline).is_file() and Path(timeline).parent.parent == out / "recognized"
    assert all(len(v) == 4 and all(0 <= x <= 100 for x in v) for v in rows.values())
    assert table_rows((out / "summary.md").read_text()) == rows
    # Calibration before and after CMPL: NLL, Brier score and ECE of each branch and the fusion, before → after T.
    for stage in ("before CMPL", "after CMPL"):
        section = output.split(f"Calibration {stage}")[1].split("\n\n")[1]
        cells = {line.split("|")[1].strip(): line.split("|")[3:6] for line in section.splitlines()[2:]}
        assert set(cells) == {*MODALITIES, "fusion"}
        for nll, brier, ece in cells.values():
            assert all(float(v) >= 0 for v in (*nll.split("→"), *brier.split("→")))
            assert re.fullmatch(r" [\d.]+ → [\d.]+ \([\d.]+\) ", ece)
    assert "temperatures fitted on the calibration subjects" in output


def test_a_rerun_reuses_the_finished_stages(demo_dir):
    out, output = demo_dir
    checkpoint = out / "runs" / "joint" / "checkpoints" / "best.pt"
    before = checkpoint.stat().st_mtime_ns
    (recognized,) = (out / "recognized").glob("*/recognize.json")
    recognized_before = recognized.stat().st_mtime_ns
    result = CliRunner().invoke(app, ["demo", "--size", "ci", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert checkpoint.stat().st_mtime_ns == before
    assert recognized.stat().st_mtime_ns == recognized_before
    assert "finished earlier, kept" in result.output
    assert table_rows(result.output) == table_rows(output)


def test_ablation_table_reports_mean_and_spread_of_each_claim():
    results = {}
    for modality in MODALITIES:
        for variant in ("full", "no-class-weights", "no-ose", "cmpl"):
            for kind in ("micro", "macro"):
                results[f"{modality}/{variant}/{kind}"] = [0.5, 0.7]
    for key in ("fusion/micro", "fusion/macro", "fusion-no-temperature/micro", "best-single/micro",
                "fusion/ece-raw", "fusion/ece-scaled"):
        results[key] = [0.2, 0.4]
    table = format_ablation(results, [0, 1])
    assert "60.0% ± 14.1%" in table and "30.0% ± 14.1%" in table
    assert table.count("| sqrt class weights |") == 3
