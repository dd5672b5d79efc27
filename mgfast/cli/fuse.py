"""``mgfast fuse``: temperature-scaled soft voting over training runs, with a submission and a report."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on
from mgfast.cli.workspace import ADAPTED, FUSED, LATEST, RUNS, announce, fuse_sources


def _parse_weights(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers such as 0.5,0.3,0.2, got {text!r}") from None


def fuse_cmd(
    runs: list[Path] = typer.Argument(None, metavar="RUN",
                                      show_default=f"the runs in {ADAPTED / LATEST}/, else those in {RUNS}/",
                                      help="Training run directories (one per modality)."),
    out: Path = typer.Option(None, "--out", show_default=str(FUSED),
                             help="Output directory for submission.csv, fused.npz, report.md, plots."),
    weights: str = typer.Option(None, "--weights", help="One weight per run, in run order, e.g. 0.5,0.3,0.2."),
    search_weights: bool = typer.Option(False, "--search-weights",
                                        help="Search the weights on the calibration split: a coarse simplex grid "
                                             "scored by NLL (default: uniform weights)."),
    step: float = typer.Option(None, "--step", help="Grid step of --search-weights (1/k, e.g. 0.25 or 0.1; "
                                                     "default 1/(2 x the number of runs))."),
    no_temperature: bool = typer.Option(False, "--no-temperature", help="Keep T = 1 instead of fitting it."),
    calibration_split: str = typer.Option("calib", "--calibration-split",
                                          help="Split that fits temperatures (and searched weights): by default "
                                               "the subjects `mgfast train` held out from training and from "
                                               "checkpoint selection."),
    test_split: str = typer.Option("test", "--test-split", help="Split written to submission.csv."),
) -> None:
    """Fuse RUN... by temperature-scaled soft voting: P = sum_m w_m softmax(z_m / T_m).

    Temperatures are fitted per run on the calibration split; weights are uniform unless given or searched.
    Writes the test split's submission.csv (Id,Target), fused.npz, report.md and PNG plots into --out.
    """
    from mgfast.fuse import fuse_runs, write_outputs
    from mgfast.report import summary_table, write_report

    if weights is not None and search_weights:
        raise typer.BadParameter("give --weights or --search-weights, not both")
    parsed = _parse_weights(weights) if weights is not None else None
    with exit_on(FileNotFoundError, ValueError, code=1):
        if not runs or out is None:
            runs = runs or fuse_sources()
            out = FUSED if out is None else out
            announce(runs, out)
        fusion = fuse_runs(runs, weights=parsed, search=search_weights, step=step, temperature=not no_temperature,
                           calibration_split=calibration_split, test_split=test_split)
        paths = {**write_outputs(fusion, out), **write_report(fusion, out)}
    typer.echo(summary_table(fusion))
    typer.echo(f"weights: {fusion.weight_source}")
    typer.echo(f"submission  {paths['submission']} ({len(fusion.test.clip_ids)} clips)")
    typer.echo(f"report      {paths['report']}")
    typer.echo(f"fused       {paths['fused']}")
