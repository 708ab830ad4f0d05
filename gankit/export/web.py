"""The studio as a static folder: ``gankit export RUN --format web DIR``.

DIR holds everything the page needs and nothing else; any static web host serves it
(it cannot be opened as a ``file://`` page: browsers refuse WebAssembly there):

=====================  ===========================================================
``index.html``         the page (with ``gankit-web.js``, ``web.css``, and what it shares
                       with the studio's page: ``gankit-common.js``, ``studio.css``,
                       ``favicon.svg``)
``generator.onnx``     the generator: ``z`` (N, z_dim) -> ``images`` (N, C, H, W) in [0, 1]
``latents.bin``        z of the exported seeds, float32 little-endian, shape
                       (1 + len(truncations), seeds, z_dim): untruncated first, then
                       each truncation level, exactly as ``gankit sample`` draws them
``run.json``           the run: model, step, size, z_dim, prior, seeds, truncations, ...
``directions.json``    the run's directions with their vectors and slider ranges
``ort/``               onnxruntime-web's WebAssembly build (see :mod:`.ortweb`)
=====================  ===========================================================

Seeds are precomputed because the browser cannot draw torch's random numbers (torch's
Mersenne Twister and its Gaussian transform); truncation likewise comes in fixed
levels (:data:`TRUNCATIONS`), each redrawn from its seed's generator as
``gankit sample --truncation T`` does. Nothing here imports torch at import time.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

from .. import __version__, console
from ..errors import GankitError, UsageError
from ..files import atomic_write
from ..latent import latents_for_seeds, list_directions, load_direction
from ..models import TRANSLATION, UNCONDITIONAL
from . import ortweb
from .common import DIRECTIONS, Source, layout, metadata, prior
from .onnx import export_onnx

#: the truncation levels of the noise-strength slider (Gaussian priors)
TRUNCATIONS = (0.5, 0.7, 1.0, 1.5, 2.0)
MAX_SEEDS = 4096
MAX_LATENT_BYTES = 64 << 20
MODEL_FILE = "generator.onnx"
LATENTS_FILE = "latents.bin"
MARKER = "gankit.web"
#: the page's own files in gankit/export/static, each with its name in the folder
PAGE_FILES = (("index.html", "index.html"), ("gankit-web.js", "gankit-web.js"),
              ("web.css", "web.css"))
#: translation runs: the translator, and the page (translate.html is written as index.html)
TRANSLATOR_FILE = "translator.onnx"
TRANSLATE_FILES = (("translate.html", "index.html"), ("gankit-translate.js", "gankit-translate.js"),
                   ("web.css", "web.css"))
#: what both pages share with the studio's page: all of gankit/static (a test checks)
SHARED_FILES = ("gankit-common.js", "studio.css", "favicon.svg")


def direction_range(norm: float, z_dim: int, prior_name: str) -> float:
    """The slider's span, as the studio computes it (gankit/studio/app.py): the strength
    at which a direction moves z as far as a typical z is long."""
    typical = math.sqrt(z_dim / 3 if prior_name == "uniform" else z_dim)
    if not norm > 0:
        return 1.0
    r = min(max(typical / norm, 0.5), 10.0)
    return round(r, 1) if r < 10 else 10.0


def check_target(out: Path) -> None:
    """A new or empty folder, or an earlier web export (its files are replaced)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file; a web export writes a folder")
    if out.is_dir() and any(out.iterdir()):
        try:
            marker = json.loads((out / "run.json").read_text("utf-8")).get("format")
        except (OSError, ValueError, AttributeError):
            marker = None
        if marker != MARKER:
            raise UsageError(f"--out {out}: the folder exists and is not a gankit web export; "
                             "choose a new folder")


def latents(src: Source, seeds, levels) -> bytes:
    """z of ``seeds`` untruncated and at each truncation level, float32 little-endian."""
    import numpy as np

    rows = [latents_for_seeds(src.model, src.config, seeds)]
    rows += [latents_for_seeds(src.model, src.config, seeds, truncation=t) for t in levels]
    return np.stack([r.float().numpy() for r in rows]).astype("<f4").tobytes()


def directions(src: Source, p: str) -> list[dict]:
    """The run's directions with their vectors; a broken one is skipped with a warning."""
    if src.run_dir is None:
        return []
    z_dim = int(src.model.z_dim(src.config))
    out = []
    for row in list_directions(src.run_dir):
        if "error" in row:
            console.warn(f"direction '{row['name']}' left out: {row['error']}")
            continue
        try:
            vec = load_direction(src.run_dir, row["name"], src.model, src.config)
        except GankitError as exc:
            console.warn(f"direction '{row['name']}' left out: {exc}")
            continue
        out.append({
            "name": row["name"], "norm": row["norm"],
            "range": direction_range(row["norm"], z_dim, p),
            "positive": row["positive"], "negative": row["negative"],
            "n_positive": row["n_positive"], "n_negative": row["n_negative"],
            "vector": [float(v) for v in vec.tolist()],
        })
    return out


def static_file(package: str, name: str) -> bytes:
    """``package``'s static/NAME: gankit.export's pages, or gankit's shared files."""
    return resources.files(package).joinpath("static", name).read_bytes()


def write_page(out: Path, page_files, runtime: dict) -> None:
    """The page: its own files, the shared ones and onnxruntime-web (with its licence)."""
    for name, data in runtime.items():
        atomic_write(out / "ort" / name, lambda tmp, data=data: Path(tmp).write_bytes(data))
    atomic_write(out / "ort" / "LICENSE-onnxruntime-web.txt",
                 lambda tmp: Path(tmp).write_text(ortweb.LICENSE_NOTE, encoding="utf-8"))
    files = [("gankit.export", name, target) for name, target in page_files]
    files += [("gankit", name, name) for name in SHARED_FILES]
    for package, name, target in files:
        data = static_file(package, name)
        atomic_write(out / target, lambda tmp, data=data: Path(tmp).write_bytes(data))


def check_source(src: Source, web_seeds) -> None:
    """Refuse what the page cannot show, before any work."""
    if src.kind == TRANSLATION and src.spec.kind == "image":
        return  # the translation page: an image in, its translation out (no seeds)
    if src.kind != UNCONDITIONAL or src.spec.kind != "image":
        what = (f"'{src.model.name}' is a {src.kind} model" if src.kind != UNCONDITIONAL
                else f"this '{src.model.name}' run makes {src.spec.kind} data, not images")
        raise GankitError(f"--format web: {what}; the web page draws images from seeds "
                          "(export it with --format onnx instead)")
    if len(web_seeds) > MAX_SEEDS:
        raise UsageError(f"--web-seeds: at most {MAX_SEEDS} seeds (got {len(web_seeds)})")
    if len(set(web_seeds)) != len(web_seeds):
        raise UsageError("--web-seeds: a seed is given twice")
    z_dim = int(src.model.z_dim(src.config))
    levels = TRUNCATIONS if prior(src) == "gaussian" else ()
    size = (1 + len(levels)) * len(web_seeds) * z_dim * 4
    if size > MAX_LATENT_BYTES:
        raise UsageError(f"--web-seeds: {len(web_seeds)} seeds of z_dim {z_dim} make "
                         f"{size >> 20} MB of latents; give fewer seeds")


def export_web(src: Source, out: Path, *, seeds, web_seeds, tolerance: float, opset: int,
               exporter: str, ort_source=None, progress=None) -> dict:
    """Write the static folder; returns what was written (for the summary line).
    ``ort_source``: the runtime's files as :func:`.ortweb.load` gives them, or where to
    load them from."""
    check_source(src, web_seeds)
    if src.kind == TRANSLATION:
        runtime = ortweb.load(ort_source) if not isinstance(ort_source, dict) else ort_source
        return export_translation_web(src, out, seeds=seeds, tolerance=tolerance, opset=opset,
                                      exporter=exporter, runtime=runtime, progress=progress)
    p = prior(src)
    levels = TRUNCATIONS if p == "gaussian" else ()
    z_dim = int(src.model.z_dim(src.config))
    runtime = ortweb.load(ort_source) if not isinstance(ort_source, dict) else ort_source
    check_target(out)
    out.mkdir(parents=True, exist_ok=True)

    lay = layout(src, False, None)  # a conditional run's graph takes labels: the class picker
    meta = metadata(src, "onnx", False, None, lay)
    check = export_onnx(src, out / MODEL_FILE, uint8=False, direction=None, lay=lay, meta=meta,
                        seeds=seeds, tolerance=tolerance, opset=opset, exporter=exporter,
                        progress=progress)

    blob = latents(src, web_seeds, levels)
    atomic_write(out / LATENTS_FILE, lambda tmp: Path(tmp).write_bytes(blob))
    dirs = directions(src, p)
    write_json(out / "directions.json", dirs)
    write_page(out, PAGE_FILES, runtime)
    if progress:
        progress()
    info = {
        "format": MARKER,
        "gankit_version": __version__,
        "run": src.run_name,
        "run_path": shown_run(src),  # for the commands the page shows
        "model": src.model.name,
        "model_version": str(src.model.version),
        "step": src.step,
        "checkpoint": Path(src.checkpoint.path).name,
        "ema": src.ema,
        "data": src.spec.name,
        "image_size": src.spec.size,
        "channels": src.spec.channels,
        "z_dim": z_dim,
        "prior": p,
        "default_method": "lerp" if p == "uniform" else "slerp",  # gankit.latent.default_method
        "seeds": list(web_seeds),
        "truncations": list(levels),
        "latents": LATENTS_FILE,
        "latents_shape": [1 + len(levels), len(web_seeds), z_dim],
        "model_file": MODEL_FILE,
        "input": lay.input,
        "labels": lay.labels,  # "" unless class-conditional
        "classes": list(getattr(src.spec, "classes", ()) or ()),
        "output": lay.output,
        "opset": opset,
        "ort_version": ortweb.VERSION,
        "check": {"seeds": len(check.seeds), "max_abs_diff": check.max_diff,
                  "tolerance": check.tolerance},
    }
    write_json(out / "run.json", info)  # last: its marker says the folder is complete
    return {"check": check, "directions": len(dirs), "seeds": len(web_seeds),
            "bytes": folder_size(out)}


def export_translation_web(src: Source, out: Path, *, seeds, tolerance: float, opset: int,
                           exporter: str, runtime: dict, progress=None) -> dict:
    """The page of a translation run: drop an image (or draw, for a run trained on edge
    maps) and see its translation, run in the browser by onnxruntime-web. The model's
    first direction (a2b) is exported, checked like ``gankit export --format onnx``."""
    own = tuple(getattr(src.model, "directions", DIRECTIONS))
    direction = next(d for d in DIRECTIONS if d in own)
    check_target(out)
    out.mkdir(parents=True, exist_ok=True)
    lay = layout(src, False, direction)
    meta = metadata(src, "onnx", False, direction, lay)
    check = export_onnx(src, out / TRANSLATOR_FILE, uint8=False, direction=direction, lay=lay,
                        meta=meta, seeds=seeds, tolerance=tolerance, opset=opset,
                        exporter=exporter, progress=progress)
    write_page(out, TRANSLATE_FILES, runtime)
    if progress:
        progress()
    names = (src.spec.name or "").split(" -> ")
    train = src.checkpoint.train if isinstance(src.checkpoint.train, dict) else {}
    extra = train.get("extra") if isinstance(train.get("extra"), dict) else {}
    info = {
        "format": MARKER,
        "kind": "translation",
        "gankit_version": __version__,
        "run": src.run_name,
        "run_path": shown_run(src),
        "model": src.model.name,
        "model_version": str(src.model.version),
        "step": src.step,
        "checkpoint": Path(src.checkpoint.path).name,
        "ema": src.ema,
        "data": src.spec.name,
        "domains": {"a": names[0] or "A", "b": names[1] if len(names) > 1 else "B"},
        "image_size": src.spec.size,
        "channels": src.spec.channels,
        "size_multiple": int(src.model.size_multiple(src.config, src.spec)),
        "direction": direction,
        # a run trained on edge maps (pix2pix --pairs edges) takes drawings
        "canvas": extra.get("pairs") == "edges",
        "model_file": TRANSLATOR_FILE,
        "input": lay.input,
        "output": lay.output,
        "opset": opset,
        "ort_version": ortweb.VERSION,
        "check": {"seeds": len(check.seeds), "max_abs_diff": check.max_diff,
                  "tolerance": check.tolerance},
    }
    write_json(out / "run.json", info)  # last: its marker says the folder is complete
    return {"check": check, "directions": 0, "seeds": 0, "bytes": folder_size(out)}


def shown_run(src: Source) -> str:
    """The run as a command here would name it: relative to the working folder when inside
    it, else just its name (a published page does not show the exporter's folders)."""
    target = src.run_dir or Path(src.checkpoint.path)
    try:
        return str(Path(target).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return src.run_name


def write_json(path: Path, doc) -> None:
    text = json.dumps(doc, indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
