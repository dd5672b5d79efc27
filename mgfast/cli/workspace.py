"""The working folder's conventional layout: where each command reads and writes when no path is given.

    videos/                    the source, given to ``mgfast extract videos/``
    mgfast-data/               the dataset: ``extract`` writes it, ``train`` reads it
    runs/<modality>/           one trained run per branch: ``train --modality <modality>``
    runs/adapted/              the adaptation (``adapt``, reading the runs in runs/); its final runs are
                               runs/adapted/latest/<modality>/
    fused/                     the fusion (``fuse``, reading the adapted runs, else the trained ones)

So ``mgfast extract videos/``, ``mgfast train --modality heatmap`` (and another branch), ``mgfast adapt`` and
``mgfast fuse`` run one after another. The paths are relative to the folder the command runs in; a path given
on the command line wins. A command that fills in a path says so in its first line of output.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import typer

from mgfast.adapt import LATEST
from mgfast.branches import NAMES
from mgfast.runs import RUN_FILE

DATASET = Path("mgfast-data")
RUNS = Path("runs")
ADAPTED = RUNS / "adapted"
FUSED = Path("fused")

RUN_HELP = f"{RUNS}/<modality>"
"""How ``--help`` shows the default run directory of ``train``."""


def branch_run(modality: str) -> Path:
    """Where ``mgfast train --modality <modality>`` writes by default."""
    return RUNS / modality


def _runs_in(folder: Path) -> list[Path]:
    """The run directories directly inside ``folder``: branches in their usual order, then others by name."""
    if not folder.is_dir():
        return []
    runs = [path for path in folder.iterdir() if (path / RUN_FILE).is_file()]
    order = {name: i for i, name in enumerate(NAMES)}
    return sorted(runs, key=lambda path: (order.get(path.name, len(order)), path.name))


def trained_runs() -> list[Path]:
    """The runs that ``mgfast train`` wrote into runs/ (the adaptation folder holds no run.json of its own)."""
    return _runs_in(RUNS)


def adapted_runs() -> list[Path]:
    """The final runs of the adaptation in runs/adapted/, or none before it has finished."""
    return _runs_in(ADAPTED / LATEST)


def _train_hint(missing: Sequence[str]) -> str:
    return " and ".join(f"mgfast train --modality {name}" for name in missing)


def adapt_sources() -> list[Path]:
    """The trained runs to adapt: two or more, since each branch is taught by the others."""
    runs = trained_runs()
    if len(runs) >= 2:
        return runs
    missing = [name for name in NAMES if not (branch_run(name) / RUN_FILE).is_file()]
    if not runs:
        raise ValueError(f"no trained runs in {RUNS}/; adaptation needs two or more branches (each is taught by "
                         f"the others): {_train_hint(missing[:2])}")
    raise ValueError(f"found only {runs[0]}; adaptation needs two or more branches (each is taught by the others): "
                     f"train another, e.g. {_train_hint(missing[:1])}")


def fuse_sources() -> list[Path]:
    """The runs to fuse: the adapted runs where the adaptation has finished, else the trained runs."""
    runs = adapted_runs() or trained_runs()
    if not runs:
        raise ValueError(f"no runs in {ADAPTED / LATEST}/ or {RUNS}/; train a branch first: "
                         f"{_train_hint(NAMES[:1])}")
    return runs


def announce(reading: Path | Sequence[Path], writing: Path) -> None:
    """The one line a command prints when it filled in a default path: what it reads and what it writes.

    Under torchrun every process runs the command; one line is enough.
    """
    if os.environ.get("RANK", "0") != "0":
        return
    sources = [reading] if isinstance(reading, Path) else reading
    typer.echo(f"reading {' '.join(map(str, sources))}, writing {writing}")
