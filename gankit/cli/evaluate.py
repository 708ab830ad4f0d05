"""`gankit evaluate [RUN]`: modes covered and high-quality share on 2-D mixture data."""

from __future__ import annotations

import json

import click

from .. import console
from ..errors import GankitError, UsageError


def mixture_of(spec, plugins=None) -> tuple[list, float]:
    """Mode centres and standard deviation of the data set a run was trained on."""
    from ..datasets import LoadOptions
    from ..plugins import get_plugins

    plugins = plugins or get_plugins()
    reason = None
    if spec.kind != "vector":
        reason = f"it was trained on {spec.kind} data '{spec.name}'"
    elif spec.name not in plugins.datasets():
        reason = f"its data set '{spec.name}' is not installed"
    if reason is None:
        ds = plugins.datasets().get(spec.name)
        meta = ds.load(LoadOptions(seed=0, warn=console.warn)).meta or {}
        if "centers" in meta and "std" in meta:
            return meta["centers"], float(meta["std"])
        reason = f"data set '{spec.name}' does not describe its modes (no centres in its meta)"
    raise GankitError(
        f"`gankit evaluate` measures mode coverage on 2-D mixture data (ring8, grid25), but "
        f"{reason}; train one with `gankit train vanilla --dataset ring8`"
    )


@click.command("evaluate")
@click.argument("run", required=False)
@click.option("-n", "num", type=int, default=2500, show_default=True,
              help="Number of samples (the papers use 2500).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="First seed: sample i uses seed SEED+i, as in `gankit sample`.")
@click.option("--min-count", type=int,
              help="High-quality samples a mode needs to count as covered "
                   "[default: a fifth of its expected share, as in PacGAN].")
@click.option("--no-ema", "no_ema", is_flag=True,
              help="Use the trained generator itself, not its EMA average.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
def evaluate(run, num, seed, min_count, device, as_json, no_ema=False):
    """Modes covered and high-quality share of a run trained on ring8 or grid25.

    A sample is high quality within 3 standard deviations of its nearest mode
    (Srivastava et al., VEEGAN); a mode is covered when enough high-quality samples
    land on it (Lin et al., PacGAN: a fifth of its expected count).
    """
    from ..engine import pick_device
    from ..metrics2d import mode_stats
    from ..models import UNCONDITIONAL, require_kind
    from ..runs import load_model
    from ..latent import latents_for_seeds
    from ..sampling import generate

    if num < 1:
        raise UsageError("-n must be at least 1")
    if num > 1_000_000:
        raise UsageError("-n: at most 1000000 samples")
    if min_count is not None and min_count < 1:
        raise UsageError("--min-count must be at least 1")
    if seed < 0:
        raise UsageError("--seed must be at least 0")
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    require_kind(model, UNCONDITIONAL, "evaluate", "it needs a model that samples from noise")
    centers, std = mixture_of(spec)
    z = latents_for_seeds(model, config, range(seed, seed + num), dev)
    samples = generate(model, nets, z)
    stats = mode_stats(samples, centers, std, min_count=min_count)
    result = {"run": str(c.path), "model": model.name, "step": c.step, "data": spec.name,
              "seed": seed, **stats}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec.name}: {model.name} at step {c.step}")
    for col in ("samples", "modes covered", "high quality", "radius (3 std)", "min count"):
        table.add_column(col, justify="right")
    table.add_row(str(stats["samples"]), f"{stats['covered']} / {stats['modes']}",
                  f"{100 * stats['high_quality']:.1f}%", f"{stats['radius']:g}",
                  str(stats["min_count"]))
    out = Console()
    out.print(table)
    out.print(f"per mode: {' '.join(map(str, stats['counts']))}  ({c.path})", highlight=False)


COMMANDS = [evaluate]
