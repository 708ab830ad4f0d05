"""`gankit sample [RUN_OR_CKPT]`."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console
from ..errors import UsageError


def parse_seeds(text: str) -> list[int]:
    """``"0-99"``, ``"3,17,42"`` or a mix like ``"0-3,10"``."""
    seeds = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if b < a or a < 0:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise UsageError(f"--seeds {text}: expected numbers and ranges like 0-99 or 3,17,42") from None
    if not seeds:
        raise UsageError(f"--seeds {text}: no seeds")
    if len(seeds) > 100_000:
        raise UsageError(f"--seeds {text}: at most 100000 seeds")
    return seeds


def latents_for_seeds(model, config, seeds, device="cpu"):
    """One latent per seed, each reproducible from its seed alone."""
    import torch

    zs = [model.latent(config, 1, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.cat(zs).to(device)


def generate(model, nets, z, batch: int = 256):
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, z.shape[0], batch):
            outs.append(model.generate(nets, z[i:i + batch]).float().cpu())
    return torch.cat(outs)


def write_outputs(images, out: Path, nrow: int, names=None) -> list[Path]:
    """Grid PNG, a folder of PNGs (out ends with / or is a folder), or .npy."""
    from ..checkpoints import atomic_write
    from ..images import save_grid, save_png, to_uint8

    out_s = str(out)
    if out_s.endswith(".npy"):
        import numpy as np

        arr = images.numpy().astype("float32")
        atomic_write(out, lambda tmp: np.save(open(tmp, "wb"), arr, allow_pickle=False))
        return [out]
    u8 = to_uint8(images)
    if out_s.endswith(("/", "\\")) or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, img in enumerate(u8):
            p = out / f"{names[i] if names else f'{i:05d}'}.png"
            save_png(img, p)
            paths.append(p)
        return paths
    if out.suffix.lower() not in (".png", ""):
        raise UsageError(f"--out {out}: use a .png file, a folder ending in /, or a .npy file")
    save_grid(u8, out if out.suffix else out.with_suffix(".png"), nrow=nrow)
    return [out]


@click.command("sample")
@click.argument("run", required=False)
@click.option("-n", "num", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="First seed: sample i uses seed SEED+i.")
@click.option("--seeds", type=str, help="Explicit seeds, e.g. 0-99 or 3,17,42 (overrides -n).")
@click.option("--grid", type=str, help="Grid layout COLSxROWS, e.g. 10x10.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("samples.png"),
              show_default=True, help="FILE.png (a grid), DIR/ (one PNG each) or FILE.npy.")
@click.option("--device", default="auto", show_default=True)
def sample(run, num, seed, seeds, grid, out, device):
    """Generate samples from a trained run (default: the newest under ./runs)."""
    from ..engine import pick_device
    from ..images import grid_shape
    from ..models import UNCONDITIONAL, require_kind
    from ..runs import load_model

    if num < 1:
        raise UsageError("-n must be at least 1")
    seed_list = parse_seeds(seeds) if seeds else list(range(seed, seed + num))
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev)
    require_kind(model, UNCONDITIONAL, "sample", "use `gankit translate` for translation models")
    cols, rows = grid_shape(len(seed_list), grid)
    if grid and cols * rows < len(seed_list):
        seed_list = seed_list[: cols * rows]
    z = latents_for_seeds(model, config, seed_list, dev)
    images = generate(model, nets, z)
    if spec.kind == "vector" and not str(out).endswith(".npy"):
        from ..plots import save_scatter

        save_scatter(images, out, spec)
        paths = [out]
    else:
        paths = write_outputs(images, out, cols, names=[f"seed{s:05d}" for s in seed_list])
    console.info(f"{len(seed_list)} samples from {c.path} (step {c.step}) -> "
                 f"{paths[0] if len(paths) == 1 else str(out)}")


COMMANDS = [sample]
