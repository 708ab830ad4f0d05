"""Tiny trained runs for the studio's and the web export's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kit import CYCLE_TINY, TINY, cli_ok

CYCLEGAN_TINY = [*CYCLE_TINY, "--sample-every", "0"]


def draw_domain(folder: Path, kind: str, n: int = 4) -> Path:
    """Domain A: red discs on blue; domain B: red discs on yellow."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(ord(kind))
    for i in range(n):
        img = Image.new("RGB", (40, 40), (20, 30, 120) if kind == "A" else (230, 210, 60))
        x, y = (int(v) for v in rng.integers(2, 24, 2))
        ImageDraw.Draw(img).ellipse([x, y, x + 13, y + 13], fill=(240, 40, 40))
        img.save(folder / f"{i}.png")
    return folder


def make_runs(root: Path, ring: bool = False) -> Path:
    """``root/runs`` with a tiny CycleGAN ``cg``, then a tiny DCGAN ``r`` (the newest), and
    with ``ring`` a 2-D vanilla GAN ``ring`` first."""
    runs = root / "runs"
    if ring:
        cli_ok("train", "vanilla", "--dataset", "ring8", "--batch-size", "16", "--steps", "2",
            "--out", runs, "--name", "ring", "--quiet")
    a, b = draw_domain(root / "A", "A"), draw_domain(root / "B", "B")
    cli_ok("train", "cyclegan", "--data", a, "--data-b", b, *CYCLEGAN_TINY, "--steps", "2",
        "--out", runs, "--name", "cg", "--quiet")
    cli_ok("train", "dcgan", *TINY, "--steps", "4", "--out", runs, "--name", "r", "--quiet")
    return runs
