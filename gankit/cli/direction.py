"""`gankit direction fit|list`: attribute vectors in the latent space of a run."""

from __future__ import annotations

import click

from .. import console
from ..errors import UsageError
from ..projection import FLAGS


@click.group("direction")
def direction():
    """Attribute directions: "more tuna", "long hair" as vectors added to z.

    \b
    A direction is the mean z of seeds that show an attribute minus the mean z of
    seeds that do not (look at `gankit sample --seeds 0-63 --label` and pick them),
    or of two folders of real pictures, each projected into the latent space first
    (--positive-images DIR --negative-images DIR; see `gankit project`).
    It is saved in RUN/directions/NAME.safetensors and used by
    `gankit sample --direction NAME:STRENGTH` and
    `gankit interpolate --direction NAME --from -2 --to 2`.
    """


def _open(run):
    from ..latent import require_run_dir
    from ..models import UNCONDITIONAL, require_kind
    from ..loading import load_model

    model, config, spec, nets, c = load_model(run)
    require_kind(model, UNCONDITIONAL, "direction",
                 "a translation model has no latent space to take directions in; "
                 "use `gankit translate`")
    return model, config, c, require_run_dir(c, "directions")


def _projection_options(fn):
    """The optimisation's flags (projection.FLAGS, as `gankit project` has them)."""
    for decls, kw in reversed(FLAGS):
        fn = click.option(*decls, **kw)(fn)
    return fn


@direction.command("fit")
@click.argument("name")
@click.argument("run", required=False)
@click.option("--positive", metavar="SEEDS",
              help="Seeds whose samples show the attribute, e.g. 3,17,42 or 10-14.")
@click.option("--negative", metavar="SEEDS",
              help="Seeds whose samples do not show it.")
@click.option("--positive-images", "positive_images", metavar="DIR",
              help="Instead of seeds: a folder of real pictures that show the attribute "
                   "(each is projected, as `gankit project` does).")
@click.option("--negative-images", "negative_images", metavar="DIR",
              help="A folder of real pictures that do not show it.")
@click.option("--method", type=click.Choice(["mean", "classifier"]), default="mean",
              show_default=True,
              help="mean: difference of the two means; classifier: the normal of a logistic "
                   "regression between them, scaled to the means' difference along it.")
@click.option("--force", is_flag=True, help="Replace an existing direction of that name.")
@_projection_options
def fit(name, run, positive, negative, positive_images, negative_images, method, force,
        max_images, no_ema, device, **flags):
    """Fit direction NAME of RUN: mean z of --positive minus mean z of --negative seeds
    (or of the projections of --positive-images and --negative-images).

    RUN is a run folder or one of its checkpoint files (default: the newest run under
    ./runs). Strength 1 moves a point by exactly that difference. The projection
    flags (--steps, --distance, ...) apply to --positive-images/--negative-images.
    """
    from ..latent import (check_name, direction_path, fit_direction, fit_vector,
                          latents_for_seeds, save_direction)
    from ..sampling import parse_seeds

    check_name(name)
    seeds_given = positive is not None or negative is not None
    images_given = positive_images is not None or negative_images is not None
    if seeds_given and images_given:
        raise UsageError("give seeds (--positive/--negative) or folders "
                         "(--positive-images/--negative-images), not both")
    if images_given:
        if positive_images is None or negative_images is None:
            raise UsageError("give both --positive-images DIR and --negative-images DIR")
        _fit_images(name, run, positive_images, negative_images, method, force, max_images,
                    no_ema, device, flags)
        return
    if positive is None or negative is None:
        raise UsageError("give --positive SEEDS and --negative SEEDS (or --positive-images "
                         "DIR and --negative-images DIR)")
    pos = parse_seeds(positive, "--positive")
    neg = parse_seeds(negative, "--negative")
    model, config, c, run_dir = _open(run)
    path = direction_path(run_dir, name)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it or choose another NAME")
    vec = fit_direction(model, config, pos, neg)  # also refuses seeds on both sides
    if method != "mean":
        vec = fit_vector(latents_for_seeds(model, config, pos),
                         latents_for_seeds(model, config, neg), method)
    save_direction(run_dir, name, vec, model=model, config=config, checkpoint=c,
                   positive=pos, negative=neg, positive_text=positive, negative_text=negative,
                   extra={"source": "seeds", "method": method})
    console.info(f"direction '{name}': {len(pos)} positive vs {len(neg)} negative seeds, "
                 f"|d| = {float(vec.norm()):.3f} -> {path}")
    console.info(f"try: gankit sample {run_dir} --direction {name}:1.5")


def _fit_images(name, run, positive_images, negative_images, method, force, max_images,
                no_ema, device, flags):
    from pathlib import Path

    from ..engine import pick_device
    from ..latent import direction_path, fit_vector, require_run_dir, save_direction
    from ..loading import load_model
    from ..projection import check_projectable, latents_of_folders, settings_of

    settings = settings_of(flags)
    for flag, d in (("--positive-images", positive_images), ("--negative-images",
                                                             negative_images)):
        if not Path(d).is_dir():
            raise UsageError(f"{flag} {d}: not a folder; give a folder of pictures")
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    check_projectable(model, spec, "direction fit")
    run_dir = require_run_dir(c, "directions")
    path = direction_path(run_dir, name)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it or choose another NAME")
    zp, zn, pos, neg, used, _ = latents_of_folders(
        model, nets, config, spec, positive_images, negative_images, settings, max_images, dev)
    vec = fit_vector(zp, zn, method)
    save_direction(run_dir, name, vec, model=model, config=config, checkpoint=c,
                   positive=pos, negative=neg, positive_text=str(positive_images),
                   negative_text=str(negative_images),
                   extra={"source": "images", "method": method, "distance": used,
                          "projection_steps": settings.steps})
    console.info(f"direction '{name}' ({method}): {len(pos)} positive vs {len(neg)} negative "
                 f"pictures projected ({used} distance), |d| = {float(vec.norm()):.3f} "
                 f"-> {path}")
    console.info(f"try: gankit sample {run_dir} --direction {name}:1.5")


@direction.command("list")
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def list_(run, as_json):
    """List the directions of RUN (default: the newest run under ./runs)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..latent import dumps, list_directions, require_run_dir
    from ..models import UNCONDITIONAL, require_kind
    from ..plugins import get_plugins
    from ..run import Run

    c = Run.find_checkpoint(run)  # metadata only: no weights are loaded
    models = get_plugins().models()
    if c.model in models:
        require_kind(models.get(c.model), UNCONDITIONAL, "direction",
                     "a translation model has no latent space to take directions in; "
                     "use `gankit translate`")
    run_dir = require_run_dir(c, "directions")
    rows = list_directions(run_dir)
    if as_json:
        click.echo(dumps(rows))
        return
    if not rows:
        console.info(f"no directions in {run_dir / 'directions'}; fit one with "
                     f"`gankit direction fit NAME {run_dir} --positive SEEDS --negative SEEDS`")
        return
    table = Table(title=f"directions of {run_dir}")
    for col in ("name", "z_dim", "|d|", "positive seeds", "negative seeds", "step", "created"):
        table.add_column(col, justify="right" if col in ("z_dim", "|d|", "step") else "left",
                         overflow="fold", no_wrap=col in ("name", "created"))
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], "", "", f"[red]{escape(r['error'])}[/red]", "", "", "")
            continue
        table.add_row(r["name"], str(r["z_dim"]), f"{r['norm']:.3f}",
                      f"{r['n_positive']}: {r['positive'].replace(',', ', ')}",
                      f"{r['n_negative']}: {r['negative'].replace(',', ', ')}",
                      str(r["step"]), r["created"][:16].replace("T", " "))
    Console().print(table)


COMMANDS = [direction]
