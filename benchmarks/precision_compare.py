#!/usr/bin/env python
"""Does a precision change training? Two `gankit train` runs side by side.

Trains the same model with the same seed (same initial weights, same data order, same
fixed noise) once per precision, one after the other, through the real CLI; then prints
a markdown table of the logged losses at the same steps and writes one image with the
sample grids of every run at the same steps side by side.

  python benchmarks/precision_compare.py --steps 1500 --out /tmp/prec \\
      --image docs/images/precision-fp32-vs-bf16.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def gankit_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("gankit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gankit"]


def read_metrics(run: Path) -> dict[int, dict]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[int(rec["step"])] = rec
    return out


def compose(rows: list[tuple[str, list[Path]]], steps: list[int], path: Path, colors: int) -> None:
    """One row per step, one column per precision, labelled; palette PNG to stay small."""
    from PIL import Image, ImageDraw

    grids = [[Image.open(p).convert("RGB") for p in paths] for _, paths in rows]
    w, h = grids[0][0].size
    pad, top, left = 6, 18, 70
    canvas = Image.new("RGB", (left + len(rows) * (w + pad), top + len(steps) * (h + pad)),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, (label, _) in enumerate(rows):
        draw.text((left + c * (w + pad) + 4, 3), label, fill=(0, 0, 0))
    for r, step in enumerate(steps):
        draw.text((4, top + r * (h + pad) + h // 2 - 6), f"step {step}", fill=(0, 0, 0))
        for c in range(len(rows)):
            canvas.paste(grids[c][r], (left + c * (w + pad), top + r * (h + pad)))
    path.parent.mkdir(parents=True, exist_ok=True)
    img = canvas.quantize(colors=colors, method=Image.Quantize.MEDIANCUT) if colors else canvas
    img.save(path, optimize=True)


def swd(a, b, n_proj: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two sets of vectors (rows)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    d = torch.randn(a.shape[1], n_proj, generator=g)
    d /= d.norm(dim=0, keepdim=True)
    q = torch.linspace(0, 1, 129)
    qa = torch.quantile((a @ d).float(), q, dim=0)
    qb = torch.quantile((b @ d).float(), q, dim=0)
    return float((qa - qb).abs().mean())


def sample_distance(run: Path, n: int, size: int = 16) -> tuple[float, float]:
    """SWD between n samples of the run's last checkpoint and its training images, both
    area-downsampled to size x size; and the same between two halves of the real data
    (a floor: what two samples of the same distribution score)."""
    import torch
    import torch.nn.functional as F

    from gankit import LoadOptions
    from gankit.latent import latents_for_seeds
    from gankit.sampling import generate
    from gankit.plugins import get_plugins
    from gankit.loading import load_model

    model, config, spec, nets, _ = load_model(str(run), device="cpu")
    z = latents_for_seeds(model, config, list(range(n)), "cpu")
    fake = generate(model, nets, z)
    ds = get_plugins().datasets().get(spec.name)
    real = ds.load(LoadOptions(image_size=spec.size, seed=0, warn=lambda m: None)).samples
    real = real.float() / 127.5 - 1

    def down(x):
        return F.interpolate(x.float(), size=(size, size), mode="area").flatten(1)

    fr, rr = down(fake), down(real)
    perm = torch.randperm(len(rr), generator=torch.Generator().manual_seed(0))
    half = len(rr) // 2
    return swd(fr, rr), swd(rr[perm[:half]], rr[perm[half:]])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--grid", type=int, default=16, help="samples per grid (kept small for docs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--extra", action="append", default=[], help="more `gankit train` flags")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("precision-runs"))
    p.add_argument("--image", type=Path, help="write the side-by-side grids here (PNG)")
    p.add_argument("--colors", type=int, default=128, help="palette size of the image; 0 = RGB")
    p.add_argument("--show-steps", help="only these steps in the image, e.g. 400,800")
    p.add_argument("--table-every", type=int, default=250, help="steps between table rows")
    p.add_argument("--reuse", action="store_true", help="do not train; read existing runs")
    p.add_argument("--swd", type=int, default=1024, metavar="N",
                   help="samples for the sliced Wasserstein distance to the data (0 = skip)")
    args = p.parse_args(argv)

    precisions = [s.strip() for s in args.precisions.split(",") if s.strip()]
    runs = {}
    for prec in precisions:
        name = f"{args.model}-{args.image_size}px-b{args.batch_size}-{prec}"
        run = args.out / name
        runs[prec] = run
        if args.reuse:
            continue
        cmd = gankit_cmd() + [
            "-q", "train", args.model, "--image-size", str(args.image_size),
            "--batch-size", str(args.batch_size), "--steps", str(args.steps),
            "--log-every", str(args.log_every), "--sample-every", str(args.sample_every),
            "--checkpoint-every", str(args.steps), "--keep-last", "1", "--grid", str(args.grid),
            "--seed", str(args.seed), "--precision", prec, "--out", str(args.out), "--name", name,
        ]
        for s in args.set:
            cmd += ["--set", s]
        for e in args.extra:
            cmd += e.split()
        if run.exists():
            cmd = gankit_cmd() + ["-q", "train", "--resume", str(run), "--steps", str(args.steps)]
        print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"  {prec}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    metrics = {prec: read_metrics(run) for prec, run in runs.items()}
    common = sorted(set.intersection(*(set(m) for m in metrics.values())))
    shown = [s for s in common if s % args.table_every == 0 or s == common[-1]]
    keys = [k for k in next(iter(metrics.values()))[common[0]] if k.startswith("loss")]
    every = common[1] - common[0] if len(common) > 1 else args.log_every
    print(f"\nlosses (mean over the {every} steps up to each step), same seed:\n")
    head = " | ".join(f"{k} {prec}" for k in keys for prec in precisions)
    print(f"| step | {head} |")
    print("|---:|" + "---:|" * (len(keys) * len(precisions)))
    for s in shown:
        cells = " | ".join(f"{metrics[prec][s][k]:.3f}" for k in keys for prec in precisions)
        print(f"| {s} | {cells} |")
    # the mean over the second half of training, a steadier summary than single points
    half = [s for s in common if s > common[-1] // 2]
    print("\nmean over the second half: " + "; ".join(
        f"{prec} " + ", ".join(f"{k} {sum(metrics[prec][s][k] for s in half) / len(half):.3f}"
                               for k in keys) for prec in precisions))
    speed = {prec: [metrics[prec][s]["images_per_s"] for s in half] for prec in precisions}
    print("logged images/s over the second half (sequential runs, not interleaved): " + ", ".join(
        f"{prec} {sorted(v)[len(v) // 2]:.0f}" for prec, v in speed.items()))
    if args.swd:
        print(f"\nsliced Wasserstein distance, {args.swd} samples vs the training images at "
              "16x16 (lower is closer):")
        for prec, run in runs.items():
            d, floor = sample_distance(run, args.swd)
            print(f"  {prec}: {d:.4f} (two halves of the real data: {floor:.4f})")
    if args.image:
        steps = sorted({int(p.stem.split("-")[1]) for p in (runs[precisions[0]] / "samples").glob("step-*.png")})
        steps = [s for s in steps if all((runs[q] / "samples" / f"step-{s:06d}.png").exists()
                                         for q in precisions)]
        if args.show_steps:
            wanted = {int(v) for v in args.show_steps.split(",")}
            steps = [s for s in steps if s in wanted]
        rows = [(prec, [runs[prec] / "samples" / f"step-{s:06d}.png" for s in steps])
                for prec in precisions]
        compose(rows, steps, args.image, args.colors)
        print(f"\nside-by-side grids: {args.image} ({args.image.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
