"""Loss plots: the ``gankit plot`` command and ``RUN/samples/losses.png`` during training.

Drawn with Pillow (a gankit dependency), so they work in every install; see
:mod:`gankit_plots.render`. During training the plot is redrawn from ``metrics.jsonl``
each time a sample grid is written (``--sample-every``), so a glance at the run's
``samples/`` folder shows both how the images and how the losses evolve.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path

import click

from gankit import GankitError, UsageError, console, hookimpl

__version__ = "1.0.0"
FILENAME = "losses.png"


# at most this share of the wall time goes to redrawing (only tiny runs that write a grid
# every few steps come near it); the last grid of a run is always followed by a redraw
MAX_SHARE = 0.05
_last: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # trainer -> (end, took)


@hookimpl
def on_samples(trainer, step, path):
    """Redraw ``samples/losses.png`` beside the grid just written."""
    from .render import plot_runs

    now = time.perf_counter()
    end, took = _last.get(trainer, (None, 0.0))
    final = step >= getattr(trainer, "total_steps", step)
    if end is not None and not final and now - end < took / MAX_SHARE:
        return
    run_dir = Path(trainer.run_dir)
    plot_runs([run_dir], Path(path).parent / FILENAME, strict=False,
              title=f"{run_dir.name}  step {step:,}")
    _last[trainer] = (time.perf_counter(), time.perf_counter() - now)


def _resolve(target: str, runs_dir: str) -> Path:
    """A run given on the command line, by gankit's one rule (:meth:`gankit.run.Run.find`)."""
    from gankit import Run

    return Run.find(target, runs_dir).path


def _newest(runs_dir: str) -> Path:
    from gankit import Run

    root = Path(runs_dir)
    found = ([m.parent for m in root.glob("*/metrics.jsonl") if Run.is_run(m.parent)]
             if root.is_dir() else [])
    if not found:
        raise GankitError(f"no run with metrics under {runs_dir}/; train one with "
                          "`gankit train dcgan` or name the runs to plot")
    return max(found, key=lambda d: ((d / "metrics.jsonl").stat().st_mtime, d.name))


@click.command("plot")
@click.argument("targets", nargs=-1, metavar="[RUN]...")
@click.option("--out", type=click.Path(path_type=Path), default=Path(FILENAME),
              show_default=True, help="PNG file to write.")
@click.option("--runs-dir", default="runs", show_default=True, metavar="DIR",
              help="Where run names (rather than paths) are looked up.")
@click.option("--smoothing", type=float, default=0.8, show_default=True,
              help="Weight of the exponential moving average drawn bold, 0 (none) to 0.99; "
                   "the raw values stay faint behind.")
@click.option("--title", help="A heading for the figure.  [default: the number of runs]")
def plot(targets, out, runs_dir, smoothing, title):
    """Plot runs' losses against steps, images/s and `gankit evaluate` numbers.

    RUN is a run folder or the name of a run under --runs-dir (default: the run that
    logged last). Several runs share each panel, a colour per run. `gankit train`
    keeps RUN/samples/losses.png up to date the same way.

    \b
      gankit plot                                 # the latest run -> losses.png
      gankit plot dcgan-a wgan-b --out cmp.png    # two runs on one figure
    """
    from .render import plot_runs

    if not 0 <= smoothing < 1:
        raise UsageError(f"--smoothing {smoothing}: choose a weight from 0 (none) to 0.99")
    if out.is_dir() or str(out).endswith(("/", "\\")):
        raise UsageError(f"--out {out}: a folder; give a file name such as {out / FILENAME}")
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: plots are written as PNG; use a .png file name")
    paths = [_resolve(t, runs_dir) for t in targets] if targets else [_newest(runs_dir)]
    seen, unique = set(), []
    for p in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    written = plot_runs(unique, out, smoothing=smoothing, title=title)
    console.info(f"wrote {written} ({len(unique)} run{'s' if len(unique) != 1 else ''})")


@hookimpl
def register_commands(cli):
    cli.add_command(plot)
