#!/usr/bin/env python
"""Projection quality: `gankit project` against the best of many random seeds.

Held-out pictures of the training distribution (the built-in sushi renderer with a seed
that training never uses: training draws ``render_sushi(count, size, seed=0)``) are
projected with the exact command ``gankit project RUN photos/ --out proj/ --json``; for
each picture the same perceptual distance and the pixel distance are also computed for
``--random-seeds`` random latents (seeds 0..N-1), and the best of them (the lowest of each
distance, taken separately) is the baseline. A Markdown table and a grid (rows: picture,
best random seed by the perceptual distance, projection) are written.

With ``--encoder`` the same command runs again with ``--fit-encoder`` (the encoder is
fitted once and cached in the run) and both starting points and results are tabled.

With ``--directions`` it also measures directions fitted from real pictures: the
training pictures (render_sushi seed 0, as `gankit train` draws them) are split by the
renderer's labels into tuna and not-tuna folders, ``gankit direction fit`` projects
both (``--per-kind`` each) and fits ``--method mean`` and ``--method classifier``; a
small classifier trained on those real pictures (``benchmarks/kinds.py``) then judges
``--direction-seeds`` generated samples at strengths 0, 0.5, 1 and 2: how many
non-tuna samples become tuna.

Examples:
  python benchmarks/projection_quality.py --run runs/sushi64                   # 16 pictures
  python benchmarks/projection_quality.py --run runs/sushi64 --pictures 4 --random-seeds 200 \\
      --steps 100 --out /tmp/pq
  python benchmarks/projection_quality.py --run runs/sushi64 --directions
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: the renderer's seed for held-out pictures (training draws seed 0)
HELD_OUT_SEED = 26_000_026
TARGET_KIND = "tuna"
STRENGTHS = (0.0, 0.5, 1.0, 2.0)


def gankit(*args) -> list[str]:
    return [sys.executable, "-m", "gankit", *map(str, args)]


def run_cmd(cmd, **kw):
    shown = " ".join(str(c) for c in cmd[2:])
    print(f"$ gankit {shown[len('gankit '):] if shown.startswith('gankit ') else shown}",
          flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr[-3000:]}")
    return p, time.perf_counter() - t0


def write_pictures(arrays, folder: Path, prefix: str = "p") -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(arrays):
        p = folder / f"{prefix}{i:03d}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


def random_baseline(run, photos, n_seeds: int, distance: str, batch: int = 100):
    """For each photo, (best perceptual distance, its seed, best pixel distance) over
    seeds 0..n_seeds-1, with the distances `gankit project` reports."""
    import torch

    from gankit.latent import latents_for_seeds
    from gankit.loading import load_model
    from gankit.projection import Perceptual, pixel_distance, read_photos
    from gankit.sampling import generate

    model, config, spec, nets, _ = load_model(run)
    targets, _ = read_photos(photos, spec, flag="photos")
    perceptual = Perceptual(distance)
    n = targets.shape[0]
    best_p = torch.full((n,), float("inf"))
    best_seed = torch.zeros(n, dtype=torch.long)
    best_x = torch.full((n,), float("inf"))
    with torch.no_grad():
        ft = perceptual.features(targets)
        for s0 in range(0, n_seeds, batch):
            seeds = list(range(s0, min(n_seeds, s0 + batch)))
            imgs = generate(model, nets, latents_for_seeds(model, config, seeds))
            fi = perceptual.features(imgs)
            for j in range(n):
                dp = perceptual.distance(fi, [f[j:j + 1] for f in ft])
                dx = pixel_distance(imgs, targets[j:j + 1])
                k = int(dp.argmin())
                if dp[k] < best_p[j]:
                    best_p[j], best_seed[j] = dp[k], seeds[k]
                best_x[j] = min(best_x[j], dx.min())
    best_imgs = generate(model, nets, latents_for_seeds(model, config, best_seed.tolist()))
    return targets, best_p.tolist(), best_seed.tolist(), best_x.tolist(), best_imgs


def projection_grid(targets, best_imgs, proj_pngs, path: Path) -> None:
    """Rows: the held-out picture, the best random seed, the projection."""
    import numpy as np
    import torch
    from PIL import Image

    from gankit.images import make_grid_uint8, to_uint8

    proj = []
    for p in proj_pngs:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB"))
        w = (a.shape[1] - 2) // 2
        proj.append(torch.from_numpy(a[:, w + 2:].copy()).permute(2, 0, 1))
    rows = torch.cat([to_uint8(targets), to_uint8(best_imgs), torch.stack(proj)])
    Image.fromarray(make_grid_uint8(rows, nrow=targets.shape[0]).permute(1, 2, 0).numpy()) \
        .save(path)


def measure_projection(args, out: Path, env) -> dict:
    from gankit_datasets.sushi import render_sushi

    from gankit.loading import load_model

    _, _, spec, _, _ = load_model(args.run)
    arrays = render_sushi(args.pictures, size=spec.size, seed=args.held_out_seed)
    photos = write_pictures(arrays, out / "photos")
    cmd = gankit("project", args.run, out / "photos", "--out", out / "proj", "--json",
                 "--steps", args.steps, "--distance", args.distance, "--force",
                 *(["--device", args.device] if args.device else []))
    p, seconds = run_cmd(cmd, env=env)
    rows = json.loads(p.stdout)
    distance = rows[0]["distance"]
    print(f"projection: {len(rows)} pictures in {seconds:.1f} s ({seconds / len(rows):.1f} s "
          f"per picture, start-up included), distance {distance}", flush=True)
    enc_rows = None
    if args.encoder:  # the same command starting from the run's encoder
        enc_cmd = [*cmd[:cmd.index("--out") + 1], out / "proj-encoder",
                   *cmd[cmd.index("--out") + 2:], "--fit-encoder"]
        p, enc_seconds = run_cmd(enc_cmd, env=env)
        enc_rows = json.loads(p.stdout)
        print(f"with --fit-encoder: {enc_seconds:.1f} s (the encoder fitted once, or read from "
              "the run)", flush=True)
    targets, best_p, best_seed, best_x, best_imgs = random_baseline(
        args.run, photos, args.random_seeds, distance)
    table = ["| picture | best of %d seeds: perceptual (seed) | projection: perceptual | "
             "best of %d seeds: pixel | projection: pixel |" % (args.random_seeds,
                                                                 args.random_seeds),
             "| --- | ---: | ---: | ---: | ---: |"]
    wins_p = wins_x = 0
    for r, bp, bs, bx in zip(rows, best_p, best_seed, best_x):
        wins_p += r["perceptual"] < bp
        wins_x += r["pixel"] < bx
        table.append(f"| {r['name']} | {bp:.4f} ({bs}) | {r['perceptual']:.4f} | {bx:.4f} | "
                     f"{r['pixel']:.4f} |")
    n = len(rows)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    table.append(f"| **mean** | {mean(best_p):.4f} | {mean([r['perceptual'] for r in rows]):.4f}"
                 f" | {mean(best_x):.4f} | {mean([r['pixel'] for r in rows]):.4f} |")
    if enc_rows:
        table += ["", "| picture | start (best of %d candidates): perceptual | + encoder: start "
                  "| projection: perceptual | + encoder: projection |" % 64,
                  "| --- | ---: | ---: | ---: | ---: |"]
        for r, e in zip(rows, enc_rows):
            table.append(f"| {r['name']} | {r['start_perceptual']:.4f} | "
                         f"{e['start_perceptual']:.4f} | {r['perceptual']:.4f} | "
                         f"{e['perceptual']:.4f} |")
    print("\n".join(table))
    print(f"projection is closer than the best random seed for {wins_p}/{n} pictures "
          f"(perceptual) and {wins_x}/{n} (pixel)")
    grid = Path(args.grid) if args.grid else out / "projection-grid.png"
    projection_grid(targets, best_imgs, [out / "proj" / f"{r['name']}.png" for r in rows], grid)
    print(f"grid (rows: picture, best random seed, projection) -> {grid}")
    return {"command": " ".join(map(str, cmd[2:])), "seconds": seconds, "distance": distance,
            "random_seeds": args.random_seeds, "rows": rows, "best_perceptual": best_p,
            "best_seed": best_seed, "best_pixel": best_x, "wins_perceptual": wins_p,
            "wins_pixel": wins_x, "encoder_rows": enc_rows, "table": table}


def measure_directions(args, out: Path, env) -> dict:
    """Directions fitted from real tuna / not-tuna pictures, judged by a small classifier."""
    from gankit_datasets.sushi import render_sushi, sushi_labels

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from kinds import classify, train_classifier  # noqa: E402 - benchmarks/kinds.py

    from gankit.latent import latents_for_seeds, load_direction
    from gankit.loading import load_model
    from gankit.sampling import generate

    model, config, spec, nets, c = load_model(args.run)
    count = args.real_count
    real = render_sushi(count, size=spec.size, seed=0)  # the pictures training draws
    labels = sushi_labels(count, seed=0)
    for kind in sorted(set(labels)):  # one folder per kind, for the judge
        write_pictures([a for a, k in zip(real, labels) if k == kind], out / "labelled" / kind,
                       prefix=f"{kind}-")
    clf, kinds, accuracy = train_classifier(out / "labelled", size=spec.size)
    tuna_index = kinds.index(TARGET_KIND)
    print(f"judge: a classifier of {len(kinds)} kinds trained on {count} real pictures, "
          f"held-out accuracy {accuracy:.2f}", flush=True)
    tuna = [a for a, k in zip(real, labels) if k == TARGET_KIND][:args.per_kind]
    other = [a for a, k in zip(real, labels) if k != TARGET_KIND][:args.per_kind]
    write_pictures(tuna, out / "real" / "tuna")
    write_pictures(other, out / "real" / "other")
    run_dir = c.path.parent.parent
    seeds = list(range(args.direction_seeds))
    z = latents_for_seeds(model, config, seeds)
    base = classify(clf, generate(model, nets, z)).tolist()
    not_tuna = [i for i, k in enumerate(base) if k != tuna_index]
    result = {"seeds": len(seeds), "not_tuna_at_0": len(not_tuna), "judge_accuracy": accuracy,
              "methods": {}}
    lines = ["| method | " + " | ".join(f"strength {s:g}" for s in STRENGTHS) + " |",
             "| --- |" + " ---: |" * len(STRENGTHS)]
    for method in ("mean", "classifier"):
        name = f"bench-tuna-{method}"
        cmd = gankit("direction", "fit", name, args.run, "--positive-images", out / "real" / "tuna",
                     "--negative-images", out / "real" / "other", "--method", method,
                     "--steps", args.steps, "--distance", args.distance, "--force",
                     "--max-images", args.per_kind)
        _, seconds = run_cmd(cmd, env=env)
        vec = load_direction(run_dir, name, model, config)
        counts = []
        for s in STRENGTHS:
            judged = classify(clf, generate(model, nets, z + s * vec.reshape(1, -1))).tolist()
            counts.append(sum(judged[i] == tuna_index for i in not_tuna))
        result["methods"][method] = {"command": " ".join(map(str, cmd[2:])),
                                     "seconds": seconds, "to_tuna": counts,
                                     "norm": float(vec.norm())}
        lines.append(f"| {method} | " + " | ".join(f"{k}/{len(not_tuna)}" for k in counts) + " |")
    print(f"{len(not_tuna)} of {len(seeds)} seeds are not {TARGET_KIND} at strength 0; how many "
          f"of them the classifier calls {TARGET_KIND} with the direction added:")
    print("\n".join(lines))
    result["table"] = lines
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="A trained sushi run (folder or checkpoint).")
    ap.add_argument("--pictures", type=int, default=16, help="Held-out pictures projected.")
    ap.add_argument("--held-out-seed", type=int, default=HELD_OUT_SEED)
    ap.add_argument("--random-seeds", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300, help="gankit project --steps")
    ap.add_argument("--distance", default="auto", help="gankit project --distance")
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", default="projection-quality", help="Working folder.")
    ap.add_argument("--grid", help="The side-by-side grid (default OUT/projection-grid.png).")
    ap.add_argument("--json", help="Write the figures here.")
    ap.add_argument("--encoder", action="store_true",
                    help="Also project with --fit-encoder and compare the starts and ends.")
    ap.add_argument("--directions", action="store_true",
                    help="Also fit tuna directions from real pictures and judge them.")
    ap.add_argument("--real-count", type=int, default=256,
                    help="Real pictures drawn for the classifier and the folders.")
    ap.add_argument("--per-kind", type=int, default=40, help="Pictures per folder.")
    ap.add_argument("--direction-seeds", type=int, default=100)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    figures = {"projection": measure_projection(args, out, env)}
    if args.directions:
        figures["directions"] = measure_directions(args, out, env)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
