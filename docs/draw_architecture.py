"""Draws docs/architecture.png: mgfast's tiers (from tests/test_architecture.py, which enforces them) and
the data flowing through the commands. Run: python docs/draw_architecture.py"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parent
SPEC = importlib.util.spec_from_file_location("test_architecture", HERE.parent / "tests" / "test_architecture.py")

# The commands and what each leaves on disk, in the order the data flows.
FLOW = (
    ("videos/", "data"), ("mgfast extract", "stage"), ("mgfast-data/\nkeypoints, boxes, crops", "data"),
    ("mgfast train --modality\njoint | heatmap | rgb", "stage"), ("runs/<modality>/\ncheckpoints, logits", "data"),
    ("mgfast adapt (CMPL)", "stage"), ("runs/adapted/", "data"), ("mgfast fuse", "stage"),
    ("fused/\nsubmission.csv, report.md", "data"),
    ("mgfast recognize NEW_VIDEOS\n--runs ... --fusion fused/", "stage"),
    ("recognized/<video>/\nsegments.csv, timeline.png", "data"),
)
COLOURS = {"data": "#f3f0e6", "stage": "#dbe8f6"}
TIER_COLOURS = ("#eeeeee", "#e4eefa", "#e6f4e6", "#fbeede", "#f2e6f7", "#fdf7d9")


def tiers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    module = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(module)
    return module.TIERS


def draw(path: Path) -> None:
    table = tiers()
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 7.6), gridspec_kw={"width_ratios": [1.55, 1]})
    for ax in (left, right):
        ax.set_axis_off()

    left.set(xlim=(0, 1), ylim=(0, len(table)), title="Tiers: a module imports its own tier or lower ones")
    for row, ((name, modules), colour) in enumerate(zip(table, TIER_COLOURS)):
        left.add_patch(FancyBboxPatch((0.01, row + 0.06), 0.98, 0.88, boxstyle="round,pad=0,rounding_size=0.03",
                                      fc=colour, ec="#999999", lw=0.8))
        left.text(0.03, row + 0.78, name, fontsize=10, fontweight="bold", va="center")
        names = [m.removeprefix("mgfast.") if m != "mgfast" else "mgfast/__init__" for m in modules]
        per_line = 5
        lines = [names[i:i + per_line] for i in range(0, len(names), per_line)]
        for k, line in enumerate(lines):
            y = row + 0.48 - 0.28 * k + 0.14 * (len(lines) - 1)
            left.text(0.5, y, "    ".join(line), fontsize=9.5, ha="center", va="center", family="monospace")

    right.set(xlim=(0, 1), ylim=(0, len(FLOW)), title="Data flow: each stage reads what the last one wrote")
    for i, (label, kind) in enumerate(FLOW):
        y = len(FLOW) - 1 - i
        right.add_patch(FancyBboxPatch((0.12, y + 0.14), 0.76, 0.72, boxstyle="round,pad=0,rounding_size=0.04",
                                       fc=COLOURS[kind], ec="#777777", lw=0.8))
        right.text(0.5, y + 0.5, label, ha="center", va="center", fontsize=9.5,
                   family="monospace" if kind == "stage" else None)
        if i:
            right.add_patch(FancyArrowPatch((0.5, y + 1.14), (0.5, y + 0.86), arrowstyle="-|>", mutation_scale=12,
                                            color="#555555"))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    draw(HERE / "architecture.png")
    print(HERE / "architecture.png")
