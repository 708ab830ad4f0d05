"""`gankit direction fit|list`: attribute vectors in the latent space of a run."""

from __future__ import annotations

import click

from .. import console
from ..errors import UsageError


@click.group("direction")
def direction():
    """Attribute directions: "more tuna", "long hair" as vectors added to z.

    \b
    A direction is the mean z of seeds that show an attribute minus the mean z of
    seeds that do not (look at `gankit sample --seeds 0-63 --label` and pick them).
    It is saved in RUN/directions/NAME.safetensors and used by
    `gankit sample --direction NAME:STRENGTH` and
    `gankit interpolate --direction NAME --from -2 --to 2`.
    Fitting a direction from labelled real images needs an encoder (image -> z),
    which gankit does not have yet: that is out of scope for now.
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


@direction.command("fit")
@click.argument("name")
@click.argument("run", required=False)
@click.option("--positive", required=True, metavar="SEEDS",
              help="Seeds whose samples show the attribute, e.g. 3,17,42 or 10-14.")
@click.option("--negative", required=True, metavar="SEEDS",
              help="Seeds whose samples do not show it.")
@click.option("--force", is_flag=True, help="Replace an existing direction of that name.")
def fit(name, run, positive, negative, force):
    """Fit direction NAME of RUN: mean z of --positive minus mean z of --negative seeds.

    RUN is a run folder or one of its checkpoint files (default: the newest run under
    ./runs). Strength 1 moves a point by exactly that difference. Fitting from
    labelled real images would need an encoder and is out of scope for now.
    """
    from ..latent import check_name, direction_path, fit_direction, save_direction
    from ..sampling import parse_seeds

    check_name(name)
    pos = parse_seeds(positive, "--positive")
    neg = parse_seeds(negative, "--negative")
    model, config, c, run_dir = _open(run)
    path = direction_path(run_dir, name)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it or choose another NAME")
    vec = fit_direction(model, config, pos, neg)
    save_direction(run_dir, name, vec, model=model, config=config, checkpoint=c,
                   positive=pos, negative=neg, positive_text=positive, negative_text=negative)
    console.info(f"direction '{name}': {len(pos)} positive vs {len(neg)} negative seeds, "
                 f"|d| = {float(vec.norm()):.3f} -> {path}")
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
