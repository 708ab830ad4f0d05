"""`gankit loss-curve [RUN] [--out FILE]`: added to gankit's CLI by register_commands."""

from __future__ import annotations

from pathlib import Path

import click

from gankit import GankitError, console

from .curve import FILENAME, write_curve


def find_run(target: str | None) -> Path:
    """A run folder, a checkpoint inside one, or (None) the newest run under ./runs."""
    if target is None:
        runs = [p.parent for p in Path("runs").glob("*/metrics.jsonl")]
        if not runs:
            raise GankitError("no run with a metrics.jsonl under ./runs; pass a run folder")
        return max(runs, key=lambda p: (p / "metrics.jsonl").stat().st_mtime)
    p = Path(target)
    if not p.exists():
        raise GankitError(f"{target}: no such run folder or checkpoint")
    if p.is_file():  # runs/NAME/checkpoints/step-N.safetensors
        return p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return p


@click.command("loss-curve")
@click.argument("run", required=False)
@click.option("--out", type=click.Path(dir_okay=False),
              help=f"PNG to write (default: RUN/{FILENAME}).")
def loss_curve(run, out):
    """Draw the losses of RUN (default: the newest run under ./runs) as a PNG.

    From the plugin gankit-lsgan-mnist, which also draws it at the end of every run.
    """
    run_dir = find_run(run)
    path = write_curve(run_dir, out, strict=True)
    console.info(f"wrote {path}")
