"""`gankit sample [RUN_OR_CKPT]`."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console
from ..errors import UsageError
from ..latent import latents_for_seeds
from ..sampling import (class_labels, generate, parse_direction_specs, parse_seeds, save_labelled_grid,
                        write_outputs)


@click.command("sample")
@click.argument("run", required=False)
@click.option("-n", "num", type=int, default=None,
              help="Number of samples [default: 64; 8 per row with --grid-by-class].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="First seed: sample i uses seed SEED+i.")
@click.option("--seeds", type=str, help="Explicit seeds, e.g. 0-99 or 3,17,42 (overrides -n).")
@click.option("--grid", type=str, help="Grid layout COLSxROWS, e.g. 10x10.")
@click.option("--label", is_flag=True, help="Print each sample's seed under its cell of the grid.")
@click.option("--truncation", type=float, metavar="T",
              help="Gaussian priors: redraw z components beyond |T| (BigGAN's truncation "
                   "trick; smaller T = more typical, less varied samples).")
@click.option("--direction", "directions", multiple=True, metavar="NAME:STRENGTH",
              help="Add STRENGTH x an attribute direction of the run to every z "
                   "(gankit direction fit/list); repeatable.")
@click.option("--z", "z_files", multiple=True, metavar="FILE.npy",
              help="Latents from a file instead of seeds (`gankit project` writes them; "
                   "shape (z_dim,) or (N, z_dim)); repeatable.")
@click.option("--class", "classes", type=str, metavar="NAMES",
              help="Class-conditional runs: samples of this class (a name or an index; "
                   "several comma-separated take turns), e.g. --class tuna,salmon.")
@click.option("--grid-by-class", is_flag=True,
              help="Class-conditional runs: one row per class (or per --class), the same "
                   "seeds in every row.")
@click.option("--out", type=str, default="samples.png",
              show_default=True, help="FILE.png (a grid), DIR/ (one PNG each) or FILE.npy.")
@click.option("--no-ema", "no_ema", is_flag=True,
              help="Use the trained generator itself, not its EMA average.")
@click.option("--device", default="auto", show_default=True)
def sample(run, num, seed, seeds, grid, label, truncation, directions, out, device,
           no_ema=False, z_files=(), classes=None, grid_by_class=False):
    """Generate samples from a trained run (default: the newest under ./runs).

    RUN is a run folder or a .safetensors checkpoint. Each sample comes from its own
    seed, so `--seeds 42` redraws sample 42 of `--seeds 0-99` exactly.
    """
    from ..engine import pick_device
    from ..images import grid_shape
    from ..latent import apply_directions, check_truncation, require_run_dir
    from ..models import UNCONDITIONAL, require_kind
    from ..loading import load_model

    from ..bounds import check_count, check_output_memory, check_seed, parse_grid

    if z_files and (seeds or truncation is not None):
        raise UsageError("--z gives the latents: drop --seeds and --truncation")
    if num is None:
        num = 8 if grid_by_class else 64
    if num < 1:
        raise UsageError("-n must be at least 1")
    if grid and grid_by_class:
        raise UsageError("--grid-by-class lays out one row per class; drop --grid")
    check_count("-n", num)
    if grid:
        parse_grid(grid)
    if not seeds:
        check_seed("--seed", seed, num)
    seed_list = parse_seeds(seeds) if seeds else list(range(seed, seed + num))
    specs = parse_direction_specs(directions)
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    require_kind(model, UNCONDITIONAL, "sample", "use `gankit translate` for translation models")
    check_truncation(model, truncation, config)
    if z_files:  # the latents of files: labelled and named after them
        z_given, seed_list = _z_of_files(z_files, model, config)
    order, labels, row = class_labels(spec, classes, grid_by_class, list(range(len(seed_list))))
    seed_list = [seed_list[i] for i in order]
    if z_files:
        z_given = z_given[order]
    if label and (spec.kind == "vector" or str(out).endswith(".npy")):
        raise UsageError("--label draws seeds under an image grid: use --out FILE.png")
    cols, rows = (row, len(seed_list) // row) if row else grid_shape(len(seed_list), grid)
    if grid and cols * rows < len(seed_list):
        seed_list = seed_list[: cols * rows]
    check_output_memory("--z" if z_files else "--seeds" if seeds else "-n",
                        z_files[0] if z_files else seeds or num, len(seed_list), spec.shape)
    z = (z_given[:len(seed_list)] if z_files else
         latents_for_seeds(model, config, seed_list, "cpu", truncation=truncation))
    if specs:
        z = apply_directions(z, require_run_dir(c, "--direction"), specs, model, config)
    images = generate(model, nets, z.to(dev), labels=labels)
    if spec.kind == "vector" and not str(out).endswith(".npy"):
        from ..sampling import save_scatter

        save_scatter(images, out, spec)
        paths = [out]
    elif label:
        paths = [save_labelled_grid(images, [str(s) for s in seed_list], out, cols)]
    else:
        paths = write_outputs(images, out, cols, names=[
            s if z_files else f"seed{s:05d}" for s in seed_list])
    extras = ([f"truncation {truncation:g}"] if truncation is not None else []) + [
        f"{n} {v:+g}" for n, v in specs]
    if labels is not None:
        shown = list(dict.fromkeys(spec.classes[int(i)] for i in labels.tolist()))
        extras.append("class " + ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else ""))
    console.info(f"{len(seed_list)} samples from {c.path} (step {c.step})"
                 + (f" for {len(z_files)} latent file(s)" if z_files else "")
                 + (f" [{', '.join(extras)}]" if extras else "") + " -> "
                 f"{paths[0] if len(paths) == 1 else str(out)}")


def _z_of_files(files, model, config):
    """(latents, a name per latent) of --z files: NAME, or NAME-i in a file of several."""
    import torch

    from ..latent import read_z_file

    zs, names = [], []
    for f in files:
        z = read_z_file(f, model, config, "--z")
        stem = Path(f).stem
        zs.append(z)
        names += [stem] if z.shape[0] == 1 else [f"{stem}-{i}" for i in range(z.shape[0])]
    return torch.cat(zs), names


COMMANDS = [sample]
