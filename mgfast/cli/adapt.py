"""`mgfast adapt`: cross-modal pseudo-labelling over trained runs."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.adapt import AdaptConfig, adapt
from mgfast.cli.errors import exit_on
from mgfast.cli.workspace import ADAPTED, RUNS, adapt_sources, announce


def _weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        pairs = [item.split("=", 1) for item in text.split(",")]
        return {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise typer.BadParameter(f"expected name=weight pairs like joint=1,heatmap=2, got {text!r}") from None


def adapt_cmd(
    runs: list[Path] = typer.Argument(None, show_default=f"the runs in {RUNS}/",
                                      help="Trained run directories, one per modality (two or more), on one dataset."),
    out: Path = typer.Option(None, "--out", "-o", show_default=str(ADAPTED),
                             help="New directory for the adapted runs (source runs are never modified)."),
    rounds: int = typer.Option(2, help="Pseudo-label / fine-tune rounds."),
    tau: float = typer.Option(0.7, help="Minimum teacher confidence for a pseudo label."),
    agree: str = typer.Option("all", help="Teaching modalities that must agree: 'all' or 'majority'."),
    cap: int = typer.Option(0, help="At most this many pseudo labels per class and modality (0: no cap)."),
    pseudo_weight: float = typer.Option(0.5, help="Loss weight of a pseudo-labelled clip (labelled clips weigh 1)."),
    epochs: int = typer.Option(0, help="Fine-tuning epochs per round (0: a quarter of the source run's epochs)."),
    lr_scale: float = typer.Option(0.2, help="Fine-tuning learning rate as a fraction of the source run's."),
    temperatures: bool = typer.Option(True, help="Scale each teacher by its temperature fitted on the calibration split."),
    weights: str = typer.Option(None, help="Teacher weights, e.g. joint=1,heatmap=1,rgb=0.5 (default: equal)."),
    teaching: str = typer.Option("cross", help="Who picks the pseudo-labels: 'cross' (CMPL: the other modalities), "
                                                "or a control with the same schedule: 'self' (self-training), 'none' "
                                                "(labelled clips only), 'oracle' (CMPL's clips with their true labels; "
                                                "needs hidden labels)."),
) -> None:
    """Adapt trained runs to the unlabelled (test) clips by cross-modal pseudo-labelling (CMPL).

    Each round, every modality is fine-tuned on its labelled clips plus the test clips on which the OTHER
    modalities agree with confidence >= tau, then predicts again. Resumable: rerun the same command.
    The final runs are in OUT/latest/, ready for `mgfast fuse OUT/latest/*` (plain `mgfast fuse` finds them in
    the default OUT).
    """
    with exit_on(ValueError, FileNotFoundError):
        config = AdaptConfig(
            tau=tau, agree=agree, per_class_cap=cap or None, pseudo_weight=pseudo_weight, rounds=rounds,
            epochs=epochs or None, lr_scale=lr_scale, temperatures=temperatures, weights=_weights(weights),
            teaching=teaching,
        )
        if not runs or out is None:
            runs = runs or adapt_sources()
            out = ADAPTED if out is None else out
            announce(runs, out)
        final = adapt(runs, out, config, log=typer.echo)
    typer.echo(f"adapted runs: {', '.join(str(p) for p in final.values())}")
    typer.echo("next: mgfast fuse" if out == ADAPTED else f"next: mgfast fuse {out}/latest/* --out {out}/fused")
