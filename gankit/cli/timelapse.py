"""`gankit timelapse [RUN]`: the run's fixed-noise grids, in step order, as a GIF."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("timelapse")
@click.argument("run", required=False)
@click.option("--gif", is_flag=True, hidden=True, help="Accepted for symmetry; the output is a GIF.")
@click.option("--every", type=int, metavar="K",
              help="Use every K-th saved grid (the last one is always kept).  "
                   "[default: 1, or what keeps 200 frames at most]")
@click.option("--fps", type=float, default=8, show_default=True, help="GIF frames per second.")
@click.option("--size", type=int, help="Scale frames to this width in pixels.")
@click.option("--no-step", is_flag=True, help="Do not write the step in the corner.")
@click.option("--out", type=click.Path(path_type=Path), help="GIF to write.  [default: RUN/timelapse.gif]")
def timelapse(run, gif, every, fps, size, no_step, out):  # noqa: ARG001
    """Animate a run's progress: its samples/step-NNNNNN.png grids as one GIF.

    RUN is a run folder or one of its checkpoint files (default: the newest run under
    ./runs). The grids all show the same fixed noise, so the GIF shows the same
    samples taking shape. `gankit train --timelapse` writes one when training ends.
    """
    from ..timelapse import run_folder, write_timelapse

    write_timelapse(run_folder(run), out=out, every=every, fps=fps, size=size,
                    stamp=not no_step)


COMMANDS = [timelapse]
