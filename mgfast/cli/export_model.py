"""`mgfast export-model`: a trained run's network as a standalone ONNX file."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on

FORMATS = ("onnx",)


def export_model_cmd(
    run: Path = typer.Argument(..., help="Run directory written by `mgfast train`."),
    format: str = typer.Option("onnx", "--format", help=f"Model format: {', '.join(FORMATS)}."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (e.g. model.onnx); written atomically."),
    checkpoint: str = typer.Option("best", help="best, last, or a checkpoint file."),
    opset: int = typer.Option(17, help="ONNX opset version, 17 to 20."),
) -> None:
    """Export a run's network (logits only) for `mgfast recognize --engine onnx` or any ONNX Runtime.

    The model takes the branch's network input with an open batch axis: joint keypoints [N, T, V, 3],
    heatmap volumes [N, C, T, H, W] (rendered outside the model, as in training) or RGB crops
    [N, 3, T, H, W], at the run's clip_len and test_size; it returns logits [N, C]. The file's metadata
    names the branch, the classes, the input shape, the mgfast version and the run.
    """
    from mgfast.deploy.onnx import export_onnx

    with exit_on(ValueError, FileNotFoundError, TypeError):
        if format not in FORMATS:
            raise ValueError(f"--format {format!r} is not supported; choose one of {', '.join(FORMATS)}")
        path = export_onnx(run, out, opset=opset, checkpoint=checkpoint)
    typer.echo(f"wrote {path}")
