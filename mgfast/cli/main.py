"""The ``mgfast`` command: one entry point for the whole pipeline."""

from __future__ import annotations

import typer

import mgfast
from mgfast.cli.adapt import adapt_cmd
from mgfast.cli.demo import demo_cmd
from mgfast.cli.export_model import export_model_cmd
from mgfast.cli.extract import export_cmd, extract_cmd
from mgfast.cli.fuse import fuse_cmd
from mgfast.cli.recognize import recognize_cmd
from mgfast.cli.show import show_cmd
from mgfast.cli.synth import synth_cmd
from mgfast.cli.train import predict_cmd, train_cmd

app = typer.Typer(
    name="mgfast",
    help="Fast micro-gesture recognition from video: extract, train, adapt, fuse, then recognise gestures in new videos.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mgfast {mgfast.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the mgfast version and exit."
    ),
) -> None:
    """Fast micro-gesture recognition from video."""


def info() -> None:
    """Show the mgfast and torch versions, whether CUDA kernels were compiled in, and the visible GPUs."""
    import torch

    from mgfast._native import _C
    from mgfast.device import cuda_missing

    typer.echo(f"mgfast         {mgfast.__version__}")
    typer.echo(f"torch          {torch.__version__} (CUDA {torch.version.cuda or 'none'})")
    if _C.cuda_compiled:
        typer.echo(f"CUDA kernels   compiled (runtime {_C.cuda_runtime_version})")
    else:
        typer.echo("CUDA kernels   not compiled (CPU kernels; a GPU runs the ops in pure PyTorch, slower)")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    typer.echo(f"CUDA devices   {count}")
    for index in range(count):
        props = torch.cuda.get_device_properties(index)
        typer.echo(f"  cuda:{index}  {props.name}, {props.total_memory / 2**30:.1f} GiB, sm_{props.major}{props.minor}")
    typer.echo(f"CPU threads    {torch.get_num_threads()}")
    missing = cuda_missing()
    typer.echo(f"--device auto  {'cpu (' + missing + ')' if missing else 'cuda'}")


# In pipeline order, as `mgfast --help` lists them.
for name, command in (
    ("demo", demo_cmd), ("synth", synth_cmd), ("extract", extract_cmd), ("export", export_cmd),
    ("train", train_cmd), ("predict", predict_cmd), ("adapt", adapt_cmd), ("fuse", fuse_cmd), ("recognize", recognize_cmd),
    ("export-model", export_model_cmd),
    ("show", show_cmd),
    ("info", info),
):
    app.command(name)(command)

if __name__ == "__main__":
    app()
