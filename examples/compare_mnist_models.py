#!/usr/bin/env python
"""Train the textbook's three GANs on the same digits and put their samples side by side.

    python examples/compare_mnist_models.py                 # synthetic MNIST-shaped digits
    python examples/compare_mnist_models.py --data ~/mnist  # real MNIST (the IDX files)

Chapter 17 of Raschka et al. ("Machine Learning with PyTorch and Scikit-Learn") trains a
vanilla GAN (fully connected), a DCGAN and a WGAN-GP on MNIST and compares their digits.
This script does the same with three `gankit` commands per model (train, then sample),
on a budget that fits a CPU, and writes one PNG with the three sample grids labelled.

Without --data it draws its own 28x28 digits (the numerals 0-9 in Pillow's default font,
randomly rotated, scaled, shifted and thickened), so it runs anywhere without a download.
The default run is short (about two minutes of CPU time); raise --steps for better
digits: the textbook trains 100 epochs of 60,000 images, i.e. about 94,000 steps. A step
of the vanilla GAN (two small MLPs) costs a few hundredths of a DCGAN step and a
WGAN-GP step runs five critic updates, so by default the vanilla GAN gets ten times the
steps of the other two (--vanilla-steps); the captions say how many each got.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = [
    # (model, extra `gankit train` flags, caption)
    ("vanilla", [], "vanilla GAN (MLP, bce)"),
    ("dcgan", ["--set", "ngf=32", "--set", "ndf=32"], "DCGAN (bce)"),
    ("wgan-gp", ["--set", "ngf=32", "--set", "ndf=32"], "WGAN-GP (5 critic steps)"),
]


def synthetic_digits(folder: Path, n: int, seed: int) -> None:
    """Write ``n`` MNIST-like 28x28 grey PNGs (white numerals on black) into ``folder``."""
    import random

    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    fonts = {}
    for i in range(n):
        digit = i % 10
        size = rng.randint(32, 40)
        if size not in fonts:
            try:
                fonts[size] = ImageFont.load_default(size=size)
            except TypeError:  # Pillow < 10.1: the small bitmap font
                fonts[size] = ImageFont.load_default()
        canvas = Image.new("L", (56, 56), 0)
        ImageDraw.Draw(canvas).text((28, 28), str(digit), fill=255, font=fonts[size],
                                    anchor="mm")
        canvas = canvas.filter(ImageFilter.MaxFilter(5 if rng.random() < 0.15 else 3))  # pen
        canvas = canvas.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR,
                               translate=(rng.uniform(-3, 3), rng.uniform(-3, 3)))
        img = canvas.crop((8, 8, 48, 48)).resize((28, 28), Image.LANCZOS)
        img.save(folder / f"{digit}-{i:05d}.png")


def gankit(*args: str) -> None:
    cmd = [sys.executable, "-m", "gankit", *args]
    print("$ gankit " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def side_by_side(grids: list[tuple[str, Path]], out: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    images = [Image.open(p).convert("RGB") for _, p in grids]
    scale = 2
    images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    try:
        font = ImageFont.load_default(size=18)
    except TypeError:
        font = ImageFont.load_default()
    pad, label_h = 16, 34
    w = sum(im.width for im in images) + pad * (len(images) + 1)
    h = max(im.height for im in images) + label_h + pad * 2
    page = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    x = pad
    for (caption, _), im in zip(grids, images):
        draw.text((x + im.width // 2, pad + label_h // 2 - 4), caption, fill=(0, 0, 0),
                  font=font, anchor="mm")
        page.paste(im, (x, pad + label_h))
        x += im.width + pad
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    page.save(tmp, format="PNG")
    os.replace(tmp, out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="MNIST root with the IDX files (default: synthetic digits)")
    ap.add_argument("--steps", type=int, default=300,
                    help="generator updates of DCGAN and WGAN-GP")
    ap.add_argument("--vanilla-steps", type=int, default=3000,
                    help="generator updates of the vanilla GAN")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--digits", type=int, default=2000, help="synthetic digits to draw")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--out", default="compare_mnist_models.png")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        if args.data:
            source = ["--dataset", "mnist", "--data", args.data]
        else:
            folder = work / "digits"
            print(f"drawing {args.digits} synthetic digits into {folder}", flush=True)
            synthetic_digits(folder, args.digits, args.seed)
            source = ["--data", str(folder), "--grayscale", "always", "--image-size", "28"]
        grids = []
        for model, flags, caption in MODELS:
            steps = args.vanilla_steps if model == "vanilla" else args.steps
            gankit("train", model, *source, *flags, "--steps", str(steps),
                   "--batch-size", str(args.batch_size), "--seed", str(args.seed),
                   "--no-flip", "--sample-every", "0", "--checkpoint-every", str(steps),
                   "--out", str(work / "runs"), "--name", model)
            grid = work / f"{model}.png"
            gankit("sample", str(work / "runs" / model), "--seeds", "0-63", "--out", str(grid))
            grids.append((f"{caption}, {steps} steps", grid))
        side_by_side(grids, Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
