"""Peak memory of training, and the size of the decoded-image cache.

1. Peak resident memory (RSS) of ``gankit train dcgan`` on the built-in sushi data at
   64x64, batch 64, for a few steps, on the CPU (the promise: under 2 GiB).
2. A folder of 10,000 96x96 images (generated into a temp folder): the in-memory
   data set must be uint8 (10000 x 3 x 96 x 96 = 276,480,000 bytes, ~264 MiB), not
   float; its on-disk cache file; and the peak RSS of training on it, first decode
   (no cache) and again from the cache.

Peak RSS comes from ``/usr/bin/time -v`` ("Maximum resident set size"); without it
(``apt-get install time``) from ``resource.getrusage(RUSAGE_CHILDREN)`` of a fresh
child process. Run:

    python benchmarks/memory.py            # ~2-4 minutes on 2 cores
    python benchmarks/memory.py --json out.json --images 2000   # a smaller folder
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME = "/usr/bin/time"
GIB = 1024 ** 3
MIB = 1024 ** 2


def env() -> dict:
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    e["GANKIT_LOAD_PLUGINS"] = ""
    return e


def peak_rss(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    """(peak RSS in bytes, wall seconds, how it was measured) of running ``cmd``."""
    t0 = time.perf_counter()
    if os.path.exists(TIME):
        p = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True, cwd=cwd, env=env())
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        return int(m.group(1)) * 1024, wall, "/usr/bin/time -v"
    # fallback: a fresh interpreter runs the command and reports its children's peak
    probe = ("import resource, subprocess, sys; "
             "r = subprocess.run(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
             "sys.exit(r.returncode)")
    p = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True,
                       cwd=cwd, env=env())
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    kib = int(p.stderr.strip().splitlines()[-1])  # Linux: kilobytes
    return kib * 1024, wall, "getrusage(RUSAGE_CHILDREN)"


def gankit(*args) -> list[str]:
    return [sys.executable, "-m", "gankit", "-q", *map(str, args)]


def make_folder(folder: Path, n: int, size: int = 96) -> float:
    """n JPEGs of size x size: a colour gradient plus noise (compressible, varied)."""
    import numpy as np
    from PIL import Image

    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n):
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = c0 * xx[..., None] + c1 * yy[..., None] + rng.normal(0, 12, (size, size, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i:05d}.jpg",
                                                                    quality=90)
    return time.perf_counter() - t0


def in_memory(folder: Path, size: int) -> dict:
    """Load the folder as `gankit train` does and report the tensor gankit keeps."""
    code = f"""
import json, resource, sys
from gankit.plugins import get_plugins
from gankit.datasets import LoadOptions
ds = get_plugins().datasets().get("imagefolder")
data = ds.load(LoadOptions(path={str(folder)!r}, image_size={size}, cache=True))
s = data.samples
print(json.dumps({{"n": len(data), "dtype": str(s.dtype), "shape": list(s.shape),
                  "bytes": s.numel() * s.element_size(),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    if p.returncode != 0:
        raise SystemExit(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=10_000, help="images in the folder (10000)")
    ap.add_argument("--steps", type=int, default=5, help="training steps per measurement")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    results: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    import torch

    results["torch"] = torch.__version__
    with tempfile.TemporaryDirectory(prefix="gankit-mem-") as tmp:
        tmp = Path(tmp)
        common = ["--steps", args.steps, "--sample-every", 0, "--checkpoint-every", 0,
                  "--out", tmp / "runs", "--device", "cpu"]

        rss, wall, how = peak_rss(gankit("train", "dcgan", "--image-size", 64,
                                         "--batch-size", 64, *common, "--name", "sushi64"), tmp)
        results["measured_with"] = how
        results["train_dcgan_sushi_64px_batch64"] = {"peak_rss_bytes": rss, "wall_s": round(wall, 1)}
        print(f"gankit train dcgan (sushi, 64x64, batch 64, {args.steps} steps): "
              f"peak RSS {rss / MIB:,.0f} MiB ({rss / GIB:.2f} GiB) [{how}], {wall:.1f} s")

        folder = tmp / "images"
        gen_s = make_folder(folder, args.images)
        disk = sum(p.stat().st_size for p in folder.glob("*.jpg"))
        print(f"generated {args.images:,} 96x96 JPEGs ({disk / MIB:,.0f} MiB) in {gen_s:.1f} s")

        for label in ("first_decode", "from_cache"):
            rss, wall, _ = peak_rss(gankit("train", "dcgan", "--data", folder, "--image-size", 96,
                                           "--batch-size", 64, *common, "--name", label), tmp)
            results[f"train_dcgan_folder_96px_{label}"] = {"peak_rss_bytes": rss,
                                                           "wall_s": round(wall, 1)}
            print(f"gankit train dcgan on the folder, 96x96 batch 64 ({label.replace('_', ' ')}): "
                  f"peak RSS {rss / MIB:,.0f} MiB, {wall:.1f} s")
        cache = list((folder / ".gankit-cache").glob("*.safetensors"))
        info = in_memory(folder, 96)
        expected = args.images * 3 * 96 * 96
        results["image_cache"] = {**info, "expected_uint8_bytes": expected,
                                  "cache_file_bytes": sum(p.stat().st_size for p in cache)}
        print(f"in-memory data: {info['n']:,} images, {info['dtype']} {info['shape']}, "
              f"{info['bytes']:,} bytes ({info['bytes'] / 1e6:.0f} MB = "
              f"{info['bytes'] / MIB:.0f} MiB); as float32 it would be {4 * info['bytes'] / 1e6:,.0f} MB")
        print(f"cache file: {results['image_cache']['cache_file_bytes'] / 1e6:.0f} MB; "
              f"loading it: peak RSS {info['peak_rss'] / MIB:,.0f} MiB")
        ok = (info["dtype"] == "torch.uint8" and info["bytes"] == expected
              and results["train_dcgan_sushi_64px_batch64"]["peak_rss_bytes"] < 2 * GIB)
        results["ok"] = ok
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print("OK" if ok else "FAILED: over 2 GiB or the cache is not uint8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
