#!/usr/bin/env python
"""Paired translation quality: pix2pix against CycleGAN on the same pairs, for the same
CPU time, scored against the true targets of held-out pairs.

The data is made here, with no download: the built-in sushi scenes by day (A) and the
same scenes at dusk (B), drawn at the load size (image size x 286/256), or with ``--task
edges`` each sushi picture's edge map (A, gankit_pix2pix's operator) and the picture (B).
Every tenth pair is held out. pix2pix trains on the pairs (the aligned layout:
``train/`` and ``test/`` holding A|B side by side); CycleGAN on the same training
pictures as two unpaired folders (``trainA/``, ``trainB/``).

Each model trains alone, one thread (``OMP_NUM_THREADS=1``), started with a step count
it cannot reach and stopped with SIGINT once its process has used ``--cpu-minutes`` of
CPU time (gankit writes a checkpoint and exits), so both get the same CPU time whatever
else the machine runs. Then the held-out inputs are translated by each run's last
checkpoint (``model.translate``, a2b) and compared with their targets: L1 (pixels in
[0, 1]), PSNR and SSIM (gankit.metrics.paired, the numbers of ``gankit evaluate``).
The table is printed as Markdown, and a picture shows input | pix2pix | CycleGAN |
target for the first held-out pairs.

Examples:
  python benchmarks/paired_quality.py --cpu-minutes 1 --image-size 64       # a check
  python benchmarks/paired_quality.py --cpu-minutes 30 --image-size 64 \\
      --json paired.json --picture docs/images/pix2pix-vs-cyclegan.png
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

MODELS = ("pix2pix", "cyclegan")


def gankit(*args) -> list[str]:
    return [sys.executable, "-m", "gankit", *map(str, args)]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc; wall time elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# -- the data ----------------------------------------------------------------------------------


def make_data(out: Path, task: str, count: int, load_size: int) -> dict:
    """The paired layout (for pix2pix) and the unpaired one (for CycleGAN) of the same
    pictures; returns their roots and the held-out names."""
    import torch
    from PIL import Image

    from gankit.plugins import get_plugins
    from gankit.train import TrainOptions, load_data
    from gankit_pix2pix.data import edge_map

    plugins = get_plugins()
    model = plugins.models().get("pix2pix")
    opts = TrainOptions(model="pix2pix", image_size=load_size, data_options={"count": count})
    day = load_data(plugins, model, opts, path=None, name="sushi", image_size=load_size)
    b = day.samples
    if task == "edges":
        a = edge_map(b)
    else:
        dusk = load_data(plugins, model, opts, path=None, name="sushi-dusk",
                         image_size=load_size)
        a, b = b, dusk.samples
    names = [f"{i:04d}" for i in range(len(b))]
    held = set(range(5, len(b), 10))  # every tenth pair
    paired, unpaired = out / "paired", out / "unpaired"

    def png(x):
        return Image.fromarray(x.permute(1, 2, 0).contiguous().numpy())

    for i, name in enumerate(names):
        split = "test" if i in held else "train"
        side = torch.cat([a[i], b[i]], 2)  # A|B side by side
        (paired / split).mkdir(parents=True, exist_ok=True)
        png(side).save(paired / split / f"{name}.png")
        for dom, x in (("A", a[i]), ("B", b[i])):
            folder = unpaired / f"{split}{dom}"
            folder.mkdir(parents=True, exist_ok=True)
            png(x).save(folder / f"{name}.png")
    return {"paired": paired, "unpaired": unpaired, "held": sorted(held),
            "pictures": len(names)}


# -- training ------------------------------------------------------------------------------------


def train(args, model: str, data: dict, out: Path) -> dict:
    root = data["paired"] if model == "pix2pix" else data["unpaired"]
    flags = shlex.split(args.pix2pix_flags if model == "pix2pix" else args.cyclegan_flags)
    cmd = gankit("-q", "train", model, "--data", root, "--image-size", args.image_size,
                 "--steps", 10_000_000, "--checkpoint-every", 10_000_000,
                 "--sample-every", 10_000_000, "--seed", args.seed, "--precision",
                 args.precision, "--out", out, "--name", model, *flags)
    env = dict(os.environ, OMP_NUM_THREADS="1", GANKIT_LOAD_PLUGINS="")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    budget = args.cpu_minutes * 60
    used = 0.0
    while proc.poll() is None:
        time.sleep(0.5)
        used = cpu_seconds(proc.pid)
        if used != used:  # no /proc: wall time
            used = time.perf_counter() - t0
        if used >= budget:
            proc.send_signal(signal.SIGINT)  # once: gankit checkpoints, then exits
            break
    code = proc.wait()
    if code not in (0, 130, -signal.SIGINT):
        raise SystemExit(f"training {model} failed (exit {code})")
    return {"cpu_s": round(used, 1), "wall_s": round(time.perf_counter() - t0, 1)}


# -- scoring --------------------------------------------------------------------------------------


def held_out(data: dict, size: int):
    """Held-out (inputs, targets) as uint8 (N, C, size, size)."""
    import numpy as np
    import torch
    from PIL import Image

    from gankit_pix2pix.data import at_size

    a, b = [], []
    for i in data["held"]:
        for folder, lst in (("testA", a), ("testB", b)):
            with Image.open(data["unpaired"] / folder / f"{i:04d}.png") as im:
                lst.append(torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1))
    return at_size(torch.stack(a), size), at_size(torch.stack(b), size)


def score(out: Path, model: str, inputs, targets) -> tuple[dict, object]:
    from gankit import load_model
    from gankit.metrics.paired import pair_scores, translate_u8

    m, config, spec, nets, c = load_model(out / model, device="cpu")
    outputs = translate_u8(m, nets, inputs, "cpu")
    # the precision `--precision auto` picked (bf16 on CPUs with bf16 instructions)
    used = json.loads((out / model / "config.json").read_text()).get("precision")
    return {"step": c.step, "precision": used, **pair_scores(outputs, targets)}, outputs


def picture(path: Path, inputs, columns: dict, targets, rows: int = 6) -> None:
    import torch
    from PIL import Image, ImageDraw

    k = min(rows, inputs.shape[0])
    cols = [("input", inputs), *columns.items(), ("target", targets)]
    s = inputs.shape[-1]
    pad = 4
    sheet = Image.new("RGB", (len(cols) * (s + pad) + pad, 16 + k * (s + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for j, (name, imgs) in enumerate(cols):
        x = pad + j * (s + pad)
        draw.text((x, 2), name, fill=(230, 230, 230))
        for i in range(k):
            arr = imgs[i].permute(1, 2, 0).to(torch.uint8).numpy()
            sheet.paste(Image.fromarray(arr), (x, 16 + pad + i * (s + pad)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--task", choices=("dusk", "edges"), default="dusk",
                   help="day -> dusk sushi scenes, or edge map -> sushi picture")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--count", type=int, default=256, help="sushi scenes (every tenth held out)")
    p.add_argument("--cpu-minutes", type=float, default=10.0,
                   help="CPU time each model trains for (one thread)")
    p.add_argument("--precision", default="auto", help="gankit train --precision")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pix2pix-flags", default="", help="more flags for pix2pix")
    p.add_argument("--cyclegan-flags", default="", help="more flags for cyclegan")
    p.add_argument("--out", default="paired-quality", help="folder for the data and runs")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--picture", help="input | pix2pix | CycleGAN | target picture "
                                     "(default OUT/side-by-side.png)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if (out / "runs").exists():
        raise SystemExit(f"{out}/runs exists: give another --out")
    load_size = int(args.image_size * 286 / 256 + 0.5)
    t0 = time.time()
    data = make_data(out / "data", args.task, args.count, load_size)
    print(f"data: {data['pictures']} {args.task} pairs at {load_size} px, "
          f"{len(data['held'])} held out ({time.time() - t0:.0f} s)", flush=True)
    times = {m: train(args, m, data, out / "runs") for m in MODELS}
    inputs, targets = held_out(data, args.image_size)
    rows, outputs = [], {}
    for m in MODELS:
        s, outputs[m] = score(out / "runs", m, inputs, targets)
        rows.append({"model": m, **times[m], **s})
    pic = Path(args.picture) if args.picture else out / "side-by-side.png"
    picture(pic, inputs, {"pix2pix": outputs["pix2pix"], "CycleGAN": outputs["cyclegan"]},
            targets)
    print(f"\n{args.task}, {args.image_size} px, {args.cpu_minutes:g} CPU minutes each "
          f"(one thread, --precision {args.precision}); {inputs.shape[0]} held-out pairs\n")
    print("| model | precision | steps | CPU s | L1 (lower) | PSNR dB | SSIM |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['precision']} | {r['step']} | {r['cpu_s']:.0f} | "
              f"{r['l1']:.4f} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
    print(f"\npicture: {pic}")
    if args.json:
        Path(args.json).write_text(json.dumps({"task": args.task, "image_size": args.image_size,
                                               "cpu_minutes": args.cpu_minutes,
                                               "precision": args.precision, "rows": rows},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
