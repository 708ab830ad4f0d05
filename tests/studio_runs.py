"""Tiny trained runs for the studio's tests (shared by test_studio_api and test_studio_browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from conftest import TINY

CYCLEGAN_TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=2",
                 "--batch-size", "2", "--sample-every", "0"]


def cli(*args):
    """Run gankit in-process; fail the test with its stderr when it fails."""
    from click.testing import CliRunner

    from gankit.cli import make_cli

    res = CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    return res


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
        cli("train", "vanilla", "--dataset", "ring8", "--batch-size", "16", "--steps", "2",
            "--out", runs, "--name", "ring", "--quiet")
    a, b = draw_domain(root / "A", "A"), draw_domain(root / "B", "B")
    cli("train", "cyclegan", "--data", a, "--data-b", b, *CYCLEGAN_TINY, "--steps", "2",
        "--out", runs, "--name", "cg", "--quiet")
    cli("train", "dcgan", *TINY, "--steps", "4", "--out", runs, "--name", "r", "--quiet")
    return runs
