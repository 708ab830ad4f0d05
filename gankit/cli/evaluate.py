"""`gankit evaluate [RUN]`: image-quality numbers on image runs (the work lives in
:mod:`gankit.metrics`), modes covered and high-quality share on 2-D mixture data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import console
from ..errors import GankitError, UsageError


def mixture_of(spec, plugins=None, checkpoint=None) -> tuple[list, float]:
    """Mode centres and standard deviation of the data set a run was trained on (the
    one its checkpoint recorded as ``PLUGIN:NAME``, else by the spec's name)."""
    from ..datasets import LoadOptions
    from ..plugins import get_plugins
    from ..registry import recorded_names

    plugins = plugins or get_plugins()
    name = (recorded_names(checkpoint).get("dataset") if checkpoint is not None else None) \
        or spec.name
    reason = None
    if spec.kind != "vector":
        reason = f"it was trained on {spec.kind} data '{spec.name}'"
    elif name not in plugins.datasets():
        reason = f"its data set '{name}' is not installed"
    if reason is None:
        ds = plugins.datasets().get(name)
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
@click.option("-n", "num", type=int,
              help="Number of samples [default: 2500 on 2-D data (as the papers), "
                   "1000 on images; at most 50000].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="First seed: sample i uses seed SEED+i, as in `gankit sample`.")
@click.option("--min-count", type=int,
              help="2-D runs: high-quality samples a mode needs to count as covered "
                   "[default: a fifth of its expected share, as in PacGAN].")
@click.option("--fid", is_flag=True,
              help="Images: also FID and KID with Inception features (needs gankit[metrics]).")
@click.option("--inception-weights", type=click.Path(dir_okay=False),
              help="Images: the Inception weights file for --fid, to work offline.")
@click.option("--data", "data_path", metavar="PATH",
              help="Images: where the run's training images are now (if they moved).")
@click.option("--dataset", help="Images: compare with this data set instead of the run's.")
@click.option("--no-cache", is_flag=True, help="Images: recompute the training images' features.")
@click.option("--no-ema", "no_ema", is_flag=True,
              help="Use the trained generator itself, not its EMA average.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
def evaluate(run, num, seed, min_count, fid, inception_weights, data_path, dataset, no_cache,
             device, as_json, no_ema=False):
    """How good a run's samples are.

    \b
    Image runs: multi-scale sliced Wasserstein distance (pixels), KID, Fréchet
    distance, precision/recall and memorisation in gankit's download-free feature
    space, and FID with --fid. Writes RUN/metrics/eval-step-NNNNNNN.json and a
    picture of the samples closest to training images (docs/metrics.md).

    \b
    Translation runs with held-out pairs (pix2pix): L1, PSNR and SSIM of the
    outputs against the true targets, and SWD/KID of the outputs (docs/pix2pix.md).

    \b
    2-D runs (ring8, grid25): modes covered and high-quality share. A sample is high
    quality within 3 standard deviations of its nearest mode (Srivastava et al.,
    VEEGAN); a mode is covered when enough high-quality samples land on it (Lin et
    al., PacGAN: a fifth of its expected count).
    """
    from ..engine import pick_device
    from ..models import TRANSLATION, UNCONDITIONAL, require_kind
    from ..loading import load_model

    if num is not None and num < 1:
        raise UsageError("-n must be at least 1")
    if num is not None and num > 1_000_000:
        raise UsageError("-n: at most 1000000 samples")
    if min_count is not None and min_count < 1:
        raise UsageError("--min-count must be at least 1")
    if seed < 0:
        raise UsageError("--seed must be at least 0")
    if inception_weights and not fid:
        raise UsageError("--inception-weights is for --fid; add --fid")
    if inception_weights and not Path(inception_weights).is_file():  # before the extra's check
        raise UsageError(f"--inception-weights {inception_weights}: no such file")
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    if model.kind == TRANSLATION:
        for flag, value in (("-n", num), ("--fid", fid), ("--dataset", dataset),
                            ("--min-count", min_count)):
            if value:
                raise UsageError(f"{flag} is for runs that sample from noise; {c.path} is a "
                                 "translation run (evaluate compares its held-out pairs)")
        from ..metrics.paired import evaluate_pairs, print_pairs

        result = evaluate_pairs(model, config, spec, nets, c, device=dev, data=data_path,
                                seed=seed, cache=not no_cache)
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            print_pairs(result)
        return
    require_kind(model, UNCONDITIONAL, "evaluate", "it needs a model that samples from noise")
    if spec.kind == "vector":
        for flag, value in (("--fid", fid), ("--data", data_path), ("--dataset", dataset),
                            ("--no-cache", no_cache)):
            if value:
                raise UsageError(f"{flag} is for image runs; {c.path} was trained on 2-D "
                                 f"data '{spec.name}'")
        return evaluate_2d(model, config, spec, nets, c, dev, 2500 if num is None else num,
                           seed, min_count, as_json)
    if min_count is not None:
        raise UsageError(f"--min-count is for 2-D runs; {c.path} was trained on images")
    from ..metrics.evaluate import DEFAULT_SAMPLES, evaluate_images
    from ..metrics.table import print_table

    result = evaluate_images(model, config, spec, nets, c, num=num or DEFAULT_SAMPLES, seed=seed,
                             device=dev, fid=fid, inception_weights=inception_weights,
                             data=data_path, dataset=dataset, cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        print_table(result)


def evaluate_2d(model, config, spec, nets, c, dev, num, seed, min_count, as_json):
    """Modes covered and high-quality share of a run trained on ring8 or grid25."""
    from ..latent import latents_for_seeds
    from ..metrics2d import mode_stats
    from ..sampling import generate

    centers, std = mixture_of(spec, checkpoint=c)
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
