"""`mgfast show`: one clip of a dataset as the heatmap branch sees it (frame and box, crop and skeleton, volume)."""

from __future__ import annotations

from pathlib import Path

import typer

from mgfast.cli.errors import exit_on


def show_cmd(
    dataset: Path = typer.Argument(..., help="Dataset directory written by `mgfast extract`."),
    clip_id: str = typer.Argument(..., help="Clip id, as in the dataset's manifest.csv (e.g. 0001_3)."),
    out: Path = typer.Option(..., "--out", "-o", help="clip.png (a picture) or clip.gif (animated over the frames)."),
    preset: str = typer.Option("default", help="Heatmap recipe whose window, box and sigma to use: default or tiny."),
    run: Path = typer.Option(None, "--run", help="A heatmap run directory: use its settings instead of --preset."),
    video: Path = typer.Option(None, "--video", help="The clip's source video, if it is not where the dataset's "
                                                      "meta.json says (its `source` folder)."),
) -> None:
    """Draw a clip as the heatmap branch sees it: the source frame with the saliency box, the crop with the
    mg68 skeleton, and the heatmap volume (channels summed) over the window's frames. Sizes read w x h."""
    from mgfast.runs import read_run
    from mgfast.show import show_clip

    with exit_on(ValueError, FileNotFoundError):
        run_config = None if run is None else read_run(run).config
        path, view = show_clip(dataset, clip_id, out, preset=preset, run_config=run_config, video=video)
    for note in view.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {path}")
