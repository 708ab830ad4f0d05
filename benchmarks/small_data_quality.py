#!/usr/bin/env python
"""Small-data quality: training recipes side by side on the same data, steps and seed.

Each recipe is a set of `gankit train` flags; every run trains the same model on the
same data for the same steps with the same seed, then `gankit evaluate` scores it
(sliced Wasserstein distance, KID, precision/recall and the memorisation share in the
download-free feature space). The table is printed as Markdown, and the runs' last
sample grids are put side by side in one picture.

A recipe's flags may start with ``@MODEL`` to train another model than ``--model``. With
``--minutes M`` every recipe trains for the same wall-clock time instead: it is started
with a step count it cannot reach and stopped with SIGINT after M minutes (gankit writes
a checkpoint and exits), so the figures compare what each recipe makes of equal time.
``--parallel`` trains all recipes at once, one thread each, so that each has one core of
the machine for the same time. The grids are drawn afterwards from each run's last
checkpoint with ``gankit sample`` (the same seeds for every recipe).

Examples:
  python benchmarks/small_data_quality.py                         # sushi 64 px, 600 steps
  python benchmarks/small_data_quality.py --data ./folder --steps 1500 \\
      --recipe plain="--ema 0 --augment none" --recipe default=""
  python benchmarks/small_data_quality.py --minutes 20 \\
      --recipe dcgan="" --recipe lightweight="@lightweight"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
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


def train_command(args, name: str, flags: str, out: Path) -> tuple[str, list[str]]:
    data = ["--data", args.data] if args.data else ["--dataset", args.dataset]
    model, extra = args.model, shlex.split(flags)
    if extra and extra[0].startswith("@"):
        model, extra = extra[0][1:], extra[1:]
    steps = 10_000_000 if args.minutes else args.steps
    every = 10_000_000 if args.minutes else args.steps
    keep = []
    if args.checkpoint_every:  # intermediate checkpoints, for the time to reach a score
        every, keep = args.checkpoint_every, ["--keep-last", "0"]
    return model, gankit("-q", "train", model, *data, "--image-size", args.image_size,
                         "--steps", steps, "--seed", args.seed, "--out", out, "--name", name,
                         "--sample-every", every, "--checkpoint-every", every, *keep, *extra)


def train_all(args, recipes: dict, out: Path) -> dict:
    """Train the recipes (one after another, or all at once with --parallel); wall times."""
    env = dict(os.environ)
    if args.parallel:
        env["OMP_NUM_THREADS"] = "1"  # one core each: equal shares of the machine
    groups = [list(recipes)] if args.parallel else [[n] for n in recipes]
    times = {}
    for group in groups:
        t0 = time.perf_counter()
        wall0 = time.time()
        procs = {n: subprocess.Popen(train_command(args, n, recipes[n], out)[1], env=env)
                 for n in group}
        deadline = t0 + args.minutes * 60 if args.minutes else None
        for n, proc in procs.items():
            try:
                proc.wait(timeout=None if deadline is None
                          else max(0.0, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                # the budget is spent: one SIGINT each, once (gankit checkpoints, then
                # exits; a second SIGINT would stop it at once, without the checkpoint)
                for other in procs.values():
                    if other.poll() is None:
                        other.send_signal(signal.SIGINT)
                deadline = None
                proc.wait()
            times[n] = time.perf_counter() - t0
            times[n, "start"] = wall0
        for n, proc in procs.items():
            if proc.wait() not in (0, 130, -signal.SIGINT):
                raise SystemExit(f"training {n} failed (exit {proc.returncode})")
    return times


def checkpoint_times(args, name: str, out: Path, start: float) -> list[dict]:
    """Each intermediate checkpoint's step, seconds since its run started and scores."""
    rows = []
    for ck in sorted((out / name / "checkpoints").glob("step-*.safetensors")):
        res = subprocess.run(gankit("-q", "evaluate", ck, "--json", "-n", args.samples),
                             check=True, capture_output=True, text=True)
        doc = json.loads(res.stdout)
        rows.append({"step": doc.get("step"), "seconds": ck.stat().st_mtime - start,
                     **{k: doc["metrics"].get(k) for k in METRICS}})
    return sorted(rows, key=lambda r: r["step"])


def evaluate(args, name: str, flags: str, out: Path, train_s: float) -> dict:
    res = subprocess.run(gankit("-q", "evaluate", out / name, "--json", "-n", args.samples),
                         check=True, capture_output=True, text=True)
    doc = json.loads(res.stdout)
    subprocess.run(gankit("-q", "sample", out / name, "-n", args.grid, "--out",
                          out / f"{name}-grid.png"), check=True)
    model = train_command(args, name, flags, out)[0]
    return {"recipe": name, "model": model, "flags": flags, "train_s": train_s,
            "step": doc.get("step"), **{k: doc["metrics"].get(k) for k in METRICS}}


def side_by_side(out: Path, names: list[str], path: Path) -> None:
    from PIL import Image, ImageDraw

    grids = [(n, Image.open(out / f"{n}-grid.png").convert("RGB")) for n in names]
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
    p.add_argument("--minutes", type=float,
                   help="train every recipe for this wall-clock time instead of --steps")
    p.add_argument("--parallel", action="store_true",
                   help="train all recipes at once, one thread each (with --minutes: the "
                        "same share of the machine for the same time)")
    p.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                   help="also keep a checkpoint every STEPS steps and score each one, to "
                        "report the time each recipe needs to reach a score")
    p.add_argument("--samples", type=int, default=1000, help="samples per evaluation")
    p.add_argument("--grid", type=int, default=64, help="samples in each picture's grid")
    p.add_argument("--recipe", action="append", metavar="NAME=FLAGS",
                   help="a recipe: name and gankit train flags (repeatable)")
    p.add_argument("--out", type=Path, default=Path("runs-quality"))
    p.add_argument("--picture", type=Path, help="write the grids side by side here")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    recipes = dict(r.split("=", 1) for r in args.recipe) if args.recipe else DEFAULT_RECIPES
    os.environ.setdefault("GANKIT_LOAD_PLUGINS", "")
    times = train_all(args, recipes, args.out)
    rows = [evaluate(args, n, f, args.out, times[n]) for n, f in recipes.items()]
    what = args.data or args.dataset
    budget = f"{args.minutes:g} minutes each" if args.minutes else f"{args.steps} steps"
    print(f"### {what}, {args.image_size} px, {budget}, seed {args.seed}; "
          f"gankit evaluate -n {args.samples}\n")
    print("| recipe | model | flags | steps | SWD x1e3 (lower) | KID (lower) | precision | "
          "recall | memorisation share (lower) | train time |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['recipe']} | {r['model']} | `{r['flags'] or '(defaults)'}` | "
              f"{r['step']} | {r['swd']:.2f} | {r['kid']:.5f} | {r['precision']:.3f} | "
              f"{r['recall']:.3f} | {r['memorisation']:.3f} | {r['train_s']:.0f} s |")
    if args.checkpoint_every:
        for r in rows:
            r["checkpoints"] = checkpoint_times(args, r["recipe"], args.out,
                                                times[r["recipe"], "start"])
        print("\n| recipe | step | minutes | SWD x1e3 | KID |\n|---|---:|---:|---:|---:|")
        for r in rows:
            for c in r["checkpoints"]:
                print(f"| {r['recipe']} | {c['step']} | {c['seconds'] / 60:.1f} | "
                      f"{c['swd']:.2f} | {c['kid']:.5f} |")
    if args.picture:
        side_by_side(args.out, list(recipes), args.picture)
        print(f"\ngrids side by side: {args.picture}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
