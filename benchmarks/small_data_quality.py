#!/usr/bin/env python
"""Small-data quality: training recipes side by side on the same data, steps and seed.

Each recipe is a set of `gankit train` flags; every run trains the same model on the
same data for the same steps with the same seed, then `gankit evaluate` scores it
(sliced Wasserstein distance, KID, precision/recall and the memorisation share in the
download-free feature space). The table is printed as Markdown, and the runs' last
sample grids are put side by side in one picture.

Examples:
  python benchmarks/small_data_quality.py                         # sushi 64 px, 600 steps
  python benchmarks/small_data_quality.py --data ./folder --steps 1500 \\
      --recipe plain="--ema 0 --augment none" --recipe default=""
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_RECIPES = {
    "plain": "--ema 0 --augment none",
    "ema": "--augment none",
    "ema+diffaugment": "",
}
METRICS = ("swd", "kid", "precision", "recall", "memorisation")


def gankit(*args) -> list[str]:
    return [sys.executable, "-m", "gankit", *map(str, args)]


def run_recipe(args, name: str, flags: str, out: Path) -> dict:
    data = ["--data", args.data] if args.data else ["--dataset", args.dataset]
    cmd = gankit("-q", "train", args.model, *data, "--image-size", args.image_size,
                 "--steps", args.steps, "--seed", args.seed, "--out", out, "--name", name,
                 "--sample-every", args.steps, "--checkpoint-every", args.steps,
                 *shlex.split(flags))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    train_s = time.perf_counter() - t0
    res = subprocess.run(gankit("-q", "evaluate", out / name, "--json", "-n", args.samples),
                         check=True, capture_output=True, text=True)
    doc = json.loads(res.stdout)
    return {"recipe": name, "flags": flags, "train_s": train_s,
            **{k: doc["metrics"].get(k) for k in METRICS}}


def side_by_side(out: Path, names: list[str], path: Path) -> None:
    from PIL import Image, ImageDraw

    grids = []
    for n in names:
        found = sorted((out / n / "samples").glob("step-*.png"))
        grids.append((n, Image.open(found[-1]).convert("RGB")))
    w = sum(g.width for _, g in grids) + 8 * (len(grids) - 1)
    h = max(g.height for _, g in grids) + 18
    sheet = Image.new("RGB", (w, h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    x = 0
    for n, g in grids:
        sheet.paste(g, (x, 18))
        draw.text((x + 4, 3), n, fill=(230, 230, 230))
        x += g.width + 8
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--dataset", default="sushi")
    p.add_argument("--data", help="an image folder instead of --dataset")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1000, help="samples per evaluation")
    p.add_argument("--recipe", action="append", metavar="NAME=FLAGS",
                   help="a recipe: name and gankit train flags (repeatable)")
    p.add_argument("--out", type=Path, default=Path("runs-quality"))
    p.add_argument("--picture", type=Path, help="write the grids side by side here")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    recipes = dict(r.split("=", 1) for r in args.recipe) if args.recipe else DEFAULT_RECIPES
    os.environ.setdefault("GANKIT_LOAD_PLUGINS", "")
    rows = [run_recipe(args, n, f, args.out) for n, f in recipes.items()]
    what = args.data or args.dataset
    print(f"### {args.model} on {what}, {args.image_size} px, {args.steps} steps, seed "
          f"{args.seed}; gankit evaluate -n {args.samples}\n")
    print("| recipe | flags | SWD x1e3 (lower) | KID (lower) | precision | recall | "
          "memorisation share (lower) | train time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['recipe']} | `{r['flags'] or '(defaults)'}` | {r['swd']:.2f} | "
              f"{r['kid']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['memorisation']:.3f} | {r['train_s']:.0f} s |")
    if args.picture:
        side_by_side(args.out, list(recipes), args.picture)
        print(f"\ngrids side by side: {args.picture}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
