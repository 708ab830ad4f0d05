#!/usr/bin/env python
"""Kinds among generated pictures, judged by a small classifier trained on the real ones.

A labelled folder holds one first-level subfolder per kind (``tuna/``, ``salmon/``...).
A small CNN is trained on it (a tenth held out to report its accuracy), then it assigns a
kind to each of N samples of a run (``gankit sample RUN -n N --out FILE.npy``) and the
share of every kind is printed as a Markdown table next to its share among the real
pictures. A kind the generator has dropped shows as a share near zero. ``--per-class`` (for a
class-conditional run) samples each kind with ``gankit sample --class KIND`` and reports
the share the classifier assigns to that kind.

Importable: ``write_digits`` (a ten-kind grayscale folder drawn procedurally),
``load_folder``, ``train_classifier``, ``classify``, ``shares`` and ``sample_run``.

Examples:
  python benchmarks/kinds.py --write-digits ./digits -n 1500 --size 32
  python benchmarks/kinds.py --real ./digits --run runs/dcgan-... -n 1000
  python benchmarks/kinds.py --real ./digits --run RUN --run RUN2 --json kinds.json
  python benchmarks/kinds.py --real ./digits --run COND_RUN --per-class -n 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
ROOT = Path(__file__).resolve().parents[1]


def write_digits(folder: Path, n: int = 1500, size: int = 32, seed: int = 0) -> Path:
    """A ten-kind grayscale folder (``0/`` ... ``9/``) of procedurally drawn digits."""
    sys.path.insert(0, str(ROOT / "examples" / "gankit-lsgan-mnist"))
    from gankit_lsgan_mnist.digits import render_digits

    images, labels = render_digits(n, size=size, seed=seed)
    for i, (img, k) in enumerate(zip(images, labels)):
        out = Path(folder) / str(int(k))
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(out / f"{i:05d}.png")
    return Path(folder)


def load_folder(folder: Path, size: int, channels: int | None = None):
    """Images of a labelled folder as float (N, C, size, size) in [-1, 1], labels, names."""
    # hidden folders are not kinds (gankit keeps its image cache in .gankit-cache/)
    names = sorted(p.name for p in Path(folder).iterdir() if p.is_dir()
                   and not p.name.startswith("."))
    if len(names) < 2:
        raise SystemExit(f"{folder}: needs at least two subfolders, one per kind")
    images, labels = [], []
    for k, name in enumerate(names):
        for f in sorted((Path(folder) / name).iterdir()):
            if f.suffix.lower() in SUFFIXES:
                images.append(to_array(Image.open(f), size, channels))
                labels.append(k)
    x = torch.from_numpy(np.stack(images)).float().div(127.5).sub(1)
    return x, torch.tensor(labels), names


def to_array(img: Image.Image, size: int, channels: int | None) -> np.ndarray:
    if channels is None:
        channels = 1 if img.mode in ("L", "LA", "I", "I;16", "1") else 3
    img = img.convert("L" if channels == 1 else "RGB").resize((size, size),
                                                               Image.Resampling.BICUBIC)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


class Classifier(nn.Module):
    def __init__(self, channels: int, kinds: int, width: int = 32):
        super().__init__()
        c = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 4 * c, 3, padding=1), nn.BatchNorm2d(4 * c), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * c, kinds))

    def forward(self, x):
        return self.body(x)


def train_classifier(folder: Path, size: int = 32, epochs: int = 15, seed: int = 0,
                     channels: int | None = None):
    """Train on 90 % of the folder; returns (model, kind names, held-out accuracy)."""
    torch.manual_seed(seed)
    x, y, names = load_folder(folder, size, channels)
    perm = torch.randperm(len(x))
    held = perm[: max(len(names), len(x) // 10)]
    train = perm[len(held):]
    model = Classifier(x.shape[1], len(names))
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=epochs * (
        (len(train) + 63) // 64))
    for _ in range(epochs):
        model.train()
        for idx in train[torch.randperm(len(train))].split(64):
            xb = x[idx]
            # small shifts and (for photos) flips, so generated pictures are judged fairly
            shift = torch.randint(-2, 3, (2,))
            xb = torch.roll(xb, shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    accuracy = float((classify(model, x[held]) == y[held]).float().mean())
    return model, names, accuracy


@torch.no_grad()
def classify(model: nn.Module, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Kind index of each picture (float (N, C, H, W) in [-1, 1], the classifier's size)."""
    model.eval()
    return torch.cat([model(b).argmax(1) for b in images.split(batch)])


def shares(labels: torch.Tensor, kinds: int) -> list[float]:
    counts = torch.bincount(labels, minlength=kinds).float()
    return (counts / counts.sum()).tolist()


def sample_run(run: str, n: int, size: int, channels: int, seed: int = 10_000,
               extra: list[str] = ()) -> torch.Tensor:
    """N samples of a run (gankit sample to .npy), resized to the classifier's size."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.npy"
        subprocess.run([sys.executable, "-m", "gankit", "-q", "sample", run, "-n", str(n),
                        "--seed", str(seed), "--out", str(out), *extra], check=True)
        arr = np.load(out)
    t = torch.from_numpy(arr)
    if t.dtype == torch.uint8:
        t = t.float().div(127.5).sub(1)
    if t.ndim == 4 and t.shape[-1] in (1, 3) and t.shape[1] not in (1, 3):
        t = t.permute(0, 3, 1, 2)
    t = t.float()
    if t.shape[1] != channels:
        t = t.mean(1, keepdim=True) if channels == 1 else t.expand(-1, 3, -1, -1)
    if t.shape[-1] != size:
        t = nn.functional.interpolate(t, size=(size, size), mode="bilinear",
                                      antialias=True, align_corners=False)
    return t.clamp(-1, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--write-digits", type=Path, metavar="DIR",
                   help="write a ten-kind grayscale folder of drawn digits and stop")
    p.add_argument("--real", type=Path, help="the labelled folder (one subfolder per kind)")
    p.add_argument("--run", action="append", default=[], help="a run or checkpoint (repeatable)")
    p.add_argument("-n", type=int, default=1000, help="samples per run, or digits to write")
    p.add_argument("--size", type=int, default=32, help="the classifier's picture size")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-args", default="", help="extra flags for gankit sample")
    p.add_argument("--json", type=Path, help="also write the table here")
    p.add_argument("--per-class", action="store_true",
                   help="conditional runs: N samples of each kind (gankit sample --class "
                        "KIND), the share the classifier assigns to that kind")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.write_digits:
        write_digits(args.write_digits, args.n, args.size, args.seed)
        print(f"wrote {args.n} digits to {args.write_digits}/0..9")
        return 0
    if not args.real:
        p.error("--real DIR is needed (or --write-digits DIR)")
    model, names, acc = train_classifier(args.real, args.size, args.epochs, args.seed)
    x, y, _ = load_folder(args.real, args.size)
    if args.per_class:
        return per_class(args, model, names, acc, x.shape[1])
    rows = {"real pictures": shares(y, len(names))}
    for run in args.run:
        samples = sample_run(run, args.n, args.size, x.shape[1], extra=args.sample_args.split())
        rows[run] = shares(classify(model, samples), len(names))
    print(f"classifier held-out accuracy on the real pictures: {acc:.3f}\n")
    print("| | " + " | ".join(names) + " | smallest |")
    print("|---|" + "---:|" * (len(names) + 1))
    for what, s in rows.items():
        print(f"| {what} | " + " | ".join(f"{100 * v:.1f} %" for v in s)
              + f" | {100 * min(s):.1f} % |")
    if args.json:
        args.json.write_text(json.dumps({"accuracy": acc, "kinds": names, "shares": rows},
                                        indent=2) + "\n")
    return 0


def per_class(args, model, names, acc, channels) -> int:
    """For each run: the share of `gankit sample --class K` samples classified as K."""
    print(f"classifier held-out accuracy on the real pictures: {acc:.3f}\n")
    print("| run | " + " | ".join(names) + " | smallest |")
    print("|---|" + "---:|" * (len(names) + 1))
    table = {}
    for run in args.run:
        hits = []
        for k, name in enumerate(names):
            extra = ["--class", name, *args.sample_args.split()]
            got = classify(model, sample_run(run, args.n, args.size, channels, extra=extra))
            hits.append(float((got == k).float().mean()))
        table[run] = hits
        print(f"| {run} | " + " | ".join(f"{100 * v:.1f} %" for v in hits)
              + f" | {100 * min(hits):.1f} % |")
    if args.json:
        args.json.write_text(json.dumps({"accuracy": acc, "kinds": names, "per_class": table},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
