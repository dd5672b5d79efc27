"""`mgfast demo`: the whole pipeline on a built-in synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on


def demo_cmd(
    out: Path = typer.Option(Path("mgfast-demo"), "--out", "-o", help="Folder for everything the demo writes."),
    size: str = typer.Option("small", help="'small' (under 10 minutes on a 2-core CPU) or 'ci' (a quick smoke test)."),
    seed: int = typer.Option(0, help="Seed of the corpus and the training runs."),
    ablate: bool = typer.Option(False, "--ablate", help="Measure the method's claims instead: class weights, OSE, CMPL, fusion, temperatures."),
    seeds: int = typer.Option(3, help="With --ablate: number of seeds to average over (seed, seed+1, ...)."),
) -> None:
    """Run the whole pipeline on a synthetic corpus: synthesise, extract, train the joint, heatmap and RGB
    branches, fuse, adapt to the held-out subjects (CMPL), fuse again, and print the scores before and after
    adaptation. Resumable: rerun the same command to continue."""
    from mgfast.demo import run_ablation, run_demo, size_named

    with exit_on(ValueError, FileNotFoundError, RuntimeError, code=1):
        chosen = size_named(size)
        if ablate:
            table = run_ablation(out, chosen, list(range(seed, seed + seeds)), log=typer.echo)
        else:
            table = run_demo(out, chosen, seed=seed, log=typer.echo)
    typer.echo("")
    typer.echo(table)
