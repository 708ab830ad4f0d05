"""What the studio does, independent of HTTP: samples, walks, directions, translations.

Every torch call runs on the :class:`~gankit.studio.worker.Worker` thread, in short
jobs; the methods here are called from the HTTP threads and wait for their jobs.
Models are loaded with :func:`gankit.load_model` (the EMA generator where a
checkpoint has one) and kept for the last few runs used.

:class:`Studio` is made of one part per concept, each in its own module:
:mod:`.grids` (samples, grids, walks, PNG and GIF exports), :mod:`.translate`
(translation runs: uploads and canvas drawings), :mod:`.projections` (pictures
projected into the latent space, pinned as tiles), :mod:`.classes` (the class pick of
a conditional run) and :mod:`.commands` (the command lines shown to the user);
:mod:`.pictures` turns tensors into PNGs, :mod:`.uploads` decodes uploaded pictures
and :mod:`.loaded` holds what the worker keeps. Every name they had here is still
importable from this module.
"""

from __future__ import annotations

import math
import shlex
from collections import OrderedDict
from pathlib import Path

from ..engine import pick_device
from ..errors import GankitError, UsageError
from ..images import to_uint8
from ..latent import (apply_directions, default_method, direction_path, fit_direction,
                      latents_for_seeds, list_directions, prior_of, save_direction)
from ..loading import load_model
from ..models import UNCONDITIONAL
from ..run import Run
from ..sampling import generate
# the studio's parts, one module per concept; every name is importable from here too
from .catalog import Catalog, RunEntry, summary
from .classes import ClassPick
from .commands import Commands, compact_seeds, safe_filename, settings_tag, shown_path
from .grids import FRAME_BATCH, Grids
from .loaded import Loaded, Walk
from .pictures import _pil, data_url, pil_png_bytes, png_bytes
from .projections import MAX_PROJECTIONS, PROJECTION_CHUNK, Projections
from .translate import MAX_ASPECT, Translation, prepare, translate_image, translations
from .uploads import decode_upload
from .validate import MAX_UPLOAD_PIXELS, UPLOAD_FORMATS, BadRequest
from .worker import Worker

MODEL_CACHE = 2  # runs kept loaded

__all__ = [
    "FRAME_BATCH", "MAX_ASPECT", "MAX_PROJECTIONS", "MAX_UPLOAD_PIXELS", "MODEL_CACHE",
    "PROJECTION_CHUNK", "UPLOAD_FORMATS", "BadRequest", "GankitError", "Loaded", "Studio",
    "UsageError", "Walk", "_pil", "compact_seeds", "data_url", "decode_upload",
    "direction_range", "pil_png_bytes", "png_bytes", "prepare", "safe_filename",
    "settings_tag", "shown_path", "translate_image", "translations",
]


def direction_range(norm: float, z_dim: int, prior: str) -> float:
    """The strength at which a direction moves z as far as a typical z is long
    (sqrt(z_dim) for a Gaussian prior, sqrt(z_dim / 3) for a uniform one), rounded:
    the slider spans -range..+range."""
    typical = math.sqrt(z_dim / 3 if prior == "uniform" else z_dim)
    if not norm > 0:
        return 1.0
    r = min(max(typical / norm, 0.5), 10.0)
    return round(r, 1) if r < 10 else 10.0


# -- the studio -------------------------------------------------------------------------


class Studio(Grids, Projections, Translation, ClassPick, Commands):
    """The studio's operations; each part lives in its own module (see the bases)."""

    def __init__(self, catalog: Catalog, device: str = "auto", worker: Worker | None = None):
        self.catalog = catalog
        self.device_name = device
        self.worker = worker or Worker()
        self._models: OrderedDict[str, Loaded] = OrderedDict()  # worker thread only
        self._device = None
        #: projected pictures by id ("p1"): (run id, z (1, z_dim), file name); worker only
        self._projections: OrderedDict[str, tuple] = OrderedDict()
        self._projection_count = 0

    def close(self):
        self.worker.close()

    # -- worker-side loading --------------------------------------------------------------
    def _dev(self):
        if self._device is None:
            self._device = pick_device(self.device_name)
        return self._device

    def _load(self, entry: RunEntry, refresh: bool = False) -> Loaded:
        cached = self._models.get(entry.id)
        if cached is not None and cached.entry == entry:
            newest = entry.checkpoint or (Run(entry.run_dir).checkpoints() or [None])[-1]
            if not refresh or newest is None or Path(newest) == Path(cached.checkpoint.path):
                self._models.move_to_end(entry.id)
                return cached
        target = entry.checkpoint or entry.run_dir
        model, config, spec, nets, c = load_model(target, device=self._dev())
        loaded = Loaded(entry, model, config, spec, nets, c)
        self._models[entry.id] = loaded
        self._models.move_to_end(entry.id)
        while len(self._models) > MODEL_CACHE:
            self._models.popitem(last=False)
        return loaded

    @staticmethod
    def _unconditional_images(loaded: Loaded) -> None:
        if loaded.model.kind != UNCONDITIONAL:
            raise BadRequest(f"run '{loaded.entry.id}' is a {loaded.model.kind} model "
                             f"('{loaded.model.name}'): it has no seeds to sample; use "
                             "/api/translate", 400)
        if loaded.spec.kind != "image":
            raise BadRequest(f"run '{loaded.entry.id}' makes {loaded.spec.kind} data, not "
                             "images; the studio draws images (use `gankit sample`)", 400)

    def _latents(self, loaded: Loaded, seeds, truncation, specs):
        numbers = [s for s in seeds if isinstance(s, int)]
        z = (latents_for_seeds(loaded.model, loaded.config, numbers, "cpu", truncation=truncation)
             if numbers else None)
        if len(numbers) < len(seeds):  # projected pictures' latents in their places
            z = self._with_projections(loaded, seeds, z)
        if specs:
            if loaded.run_dir is None:
                raise BadRequest("this checkpoint is not inside a run folder, so it has no "
                                 "directions", 400)
            z = apply_directions(z, loaded.run_dir, specs, loaded.model, loaded.config)
        return z

    def _draw(self, loaded: Loaded, z, labels=None):
        return to_uint8(generate(loaded.model, loaded.nets, z.to(self._dev()), batch=64,
                                 labels=labels))

    # -- the operations (called from HTTP threads) ----------------------------------------------
    def runs(self) -> dict:
        rows = []
        for e in self.catalog.entries():
            try:
                rows.append(summary(e))
            except (OSError, ValueError, TypeError, RecursionError, OverflowError):
                continue  # one broken run never hides the others
        return {"default": self.catalog.default_id, "runs": rows}

    def info(self, run_id) -> dict:
        entry = self.catalog.get(run_id)
        return self.worker.submit(lambda: self._info(entry))

    def _info(self, entry: RunEntry) -> dict:
        loaded = self._load(entry, refresh=True)
        model, spec, c = loaded.model, loaded.spec, loaded.checkpoint
        out = summary(entry)
        out.update({
            "model": model.name, "kind": model.kind, "step": c.step,
            "checkpoint": Path(c.path).name, "image_size": spec.size, "channels": spec.channels,
            "data_kind": spec.kind, "data": spec.name,
            "classes": list(getattr(spec, "classes", ()) or ()),
            "path": shown_path(entry.checkpoint or entry.run_dir),
            "can_fit": entry.run_dir is not None,
        })
        if model.kind == UNCONDITIONAL:
            z_dim = int(model.z_dim(loaded.config))
            prior = prior_of(model, loaded.config)
            dirs = []
            if entry.run_dir is not None:
                for row in list_directions(entry.run_dir):
                    if "error" not in row and row.get("z_dim") != z_dim:
                        row["error"] = f"made for z_dim {row.get('z_dim')}, this run has {z_dim}"
                    if "error" not in row:
                        row["range"] = direction_range(row["norm"], z_dim, prior)
                    row.pop("path", None)
                    dirs.append(row)
            out.update({"z_dim": z_dim, "prior": prior, "default_method": default_method(model, loaded.config),
                        "truncation": prior == "gaussian", "directions": dirs})
        else:
            names = (spec.name or "").split(" -> ")
            out["domains"] = {"a": names[0] if names else "A",
                              "b": names[1] if len(names) > 1 else "B"}
            out["directions"] = []
            out["translations"] = list(translations(model))
            # a run trained on edge maps (pix2pix --pairs edges) takes drawings: the page
            # shows a canvas whose strokes go through /api/translate like an upload
            extra = (c.train or {}).get("extra") if isinstance(c.train, dict) else None
            out["canvas"] = isinstance(extra, dict) and extra.get("pairs") == "edges"
        return out

    def fit(self, run_id, name, positive, negative, replace) -> dict:
        entry = self.catalog.get(run_id)

        def job():
            loaded = self._load(entry, refresh=True)
            self._unconditional_images(loaded)
            if entry.run_dir is None:
                raise BadRequest("this checkpoint is not inside a run folder; open the run "
                                 "folder to save directions", 400)
            path = direction_path(entry.run_dir, name)
            if path.exists() and not replace:
                raise BadRequest(f"direction '{name}' exists; choose another name or replace it",
                                 409)
            vec = fit_direction(loaded.model, loaded.config, positive, negative)
            save_direction(entry.run_dir, name, vec, model=loaded.model, config=loaded.config,
                           checkpoint=loaded.checkpoint, positive=positive, negative=negative,
                           positive_text=compact_seeds(positive),
                           negative_text=compact_seeds(negative))
            return float(vec.norm())

        norm = self.worker.submit(job)
        info = self.info(run_id)
        cmd = " ".join(["gankit", "direction", "fit", shlex.quote(name),
                        shlex.quote(shown_path(entry.run_dir)),
                        "--positive", compact_seeds(positive), "--negative",
                        compact_seeds(negative)] + (["--force"] if replace else []))
        return {"name": name, "norm": round(norm, 4), "directions": info["directions"],
                "command": cmd}
