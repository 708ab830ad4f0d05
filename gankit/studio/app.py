"""What the studio does, independent of HTTP: samples, walks, directions, translations.

Every torch call runs on the :class:`~gankit.studio.worker.Worker` thread, in short
jobs; the methods here are called from the HTTP threads and wait for their jobs.
Models are loaded with :func:`gankit.load_model` (the EMA generator where a
checkpoint has one) and kept for the last few runs used.
"""

from __future__ import annotations

import base64
import io
import math
import shlex
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from ..errors import GankitError, UsageError
from .catalog import Catalog, RunEntry, summary
from .validate import MAX_UPLOAD_PIXELS, BadRequest
from .worker import Worker
from .validate import UPLOAD_FORMATS

FRAME_BATCH = 8  # animation frames per worker job
MODEL_CACHE = 2  # runs kept loaded
MAX_ASPECT = 4  # uploaded images wider than 4:1 are centre-cropped to it
MAX_PROJECTIONS = 64  # projected pictures kept (the oldest is forgotten first)
PROJECTION_CHUNK = 20  # optimisation steps per worker job


@dataclass
class Loaded:
    entry: RunEntry
    model: object
    config: object
    spec: object
    nets: dict
    checkpoint: object  # gankit.Checkpoint

    @property
    def run_dir(self) -> Path | None:
        return self.entry.run_dir


@dataclass
class Walk:
    """Latents of an animation, computed once and drawn batch by batch."""
    loaded: Loaded
    z: object
    seeds: list
    method: str
    frames_per_segment: int
    loop: bool
    truncation: float | None
    specs: list
    #: the frames' classes on a class-conditional run (the picked class, else the first)
    labels: object = None

    @property
    def count(self) -> int:
        return int(self.z.shape[0])


# -- small helpers ----------------------------------------------------------------------


def png_bytes(u8_chw) -> bytes:
    """A uint8 (C, H, W) tensor as PNG bytes."""
    return pil_png_bytes(_pil(u8_chw))


def pil_png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def compact_seeds(seeds) -> str:
    """[0, 1, 2, 3, 7] -> "0-3,7" (what ``--seeds`` reads back); projected pictures' ids
    (``"p1"``) stand alone."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while (j + 1 < len(seeds) and isinstance(seeds[j], int)
               and isinstance(seeds[j + 1], int) and seeds[j + 1] == seeds[j] + 1):
            j += 1
        parts.append(str(seeds[i]) if j - i < 2 else f"{seeds[i]}-{seeds[j]}")
        if j - i == 1:
            parts.append(str(seeds[j]))
        i = j + 1
    return ",".join(parts)


def shown_path(p: Path) -> str:
    """A path as the user would type it here: relative to the working folder if inside."""
    p = Path(p).resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def safe_filename(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "._+-" else "-" for ch in text)
    while "--" in keep:
        keep = keep.replace("--", "-")
    return keep.strip("-.")[:150] or "studio"


def settings_tag(seeds, truncation, specs) -> str:
    seeds_part = compact_seeds(seeds) if len(seeds) <= 8 else f"{seeds[0]}-and-{len(seeds) - 1}-more"
    tag = "seeds-" + seeds_part.replace(",", "_")
    if truncation is not None:
        tag += f"_t{truncation:g}"
    for name, s in specs:
        tag += f"_{name}{s:+g}"
    return tag


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


class Studio:
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
            from ..engine import pick_device

            self._device = pick_device(self.device_name)
        return self._device

    def _load(self, entry: RunEntry, refresh: bool = False) -> Loaded:
        from ..checkpoints import list_checkpoints
        from ..loading import load_model

        cached = self._models.get(entry.id)
        if cached is not None and cached.entry == entry:
            newest = entry.checkpoint or (list_checkpoints(entry.run_dir) or [None])[-1]
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
        from ..models import UNCONDITIONAL

        if loaded.model.kind != UNCONDITIONAL:
            raise BadRequest(f"run '{loaded.entry.id}' is a {loaded.model.kind} model "
                             f"('{loaded.model.name}'): it has no seeds to sample; use "
                             "/api/translate", 400)
        if loaded.spec.kind != "image":
            raise BadRequest(f"run '{loaded.entry.id}' makes {loaded.spec.kind} data, not "
                             "images; the studio draws images (use `gankit sample`)", 400)

    def _latents(self, loaded: Loaded, seeds, truncation, specs):
        from ..latent import apply_directions, latents_for_seeds

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

    def _with_projections(self, loaded: Loaded, seeds, z_numbers):
        import torch

        rows, k = [], 0
        for s in seeds:
            if isinstance(s, int):
                rows.append(z_numbers[k:k + 1])
                k += 1
                continue
            kept = self._projections.get(s)
            if kept is None or kept[0] != loaded.entry.id:
                raise BadRequest(f"'{s}' is not a picture projected with this run (or no longer "
                                 f"kept: the last {MAX_PROJECTIONS} are); drop it again", 404)
            rows.append(kept[1])
        return torch.cat(rows)

    def _draw(self, loaded: Loaded, z, labels=None):
        from ..images import to_uint8
        from ..sampling import generate

        return to_uint8(generate(loaded.model, loaded.nets, z.to(self._dev()), batch=64,
                                 labels=labels))

    @staticmethod
    def _labels(loaded: Loaded, n: int, pick):
        """The classes of ``n`` samples for a class pick ``(a, b, mix)`` of a conditional
        run: int64 indices, or float class weights when ``mix`` > 0; None for no pick."""
        import torch

        if pick is None:
            return None
        classes = list(getattr(loaded.spec, "classes", ()) or ())
        if not classes:
            raise BadRequest(f"run '{loaded.entry.id}' is not class-conditional; it has no "
                             "classes to pick", 400)
        a, b, mix = pick
        for name, k in (("class", a), ("class_b", b)):
            if k is not None and k >= len(classes):
                raise BadRequest(f"'{name}' {k}: the run has {len(classes)} classes, 0 to "
                                 f"{len(classes) - 1}", 400)
        if b is None or not mix:
            return torch.full((n,), a, dtype=torch.int64)
        w = torch.zeros(n, len(classes))
        w[:, a] += 1 - mix
        w[:, b] += mix
        return w

    # -- commands a user can run to get the same pictures ---------------------------------------
    def _target_text(self, entry: RunEntry) -> str:
        return shlex.quote(shown_path(entry.checkpoint or entry.run_dir))

    def _projected_note(self, seeds) -> str:
        names = [f"{s}.npy" for s in seeds if not isinstance(s, int)]
        if not names:
            return ""
        return (f"  # {', '.join(names)}: the latents of the dropped pictures, as `gankit "
                f"project RUN PICTURE` writes them (NAME.npy)")

    def sample_command(self, entry, seeds, truncation, specs, cols=None, label=False,
                       out="samples.png", classes=None) -> str:
        if any(not isinstance(s, int) for s in seeds):  # projected pictures: --z files
            parts = ["gankit", "sample", self._target_text(entry)]
            for s in seeds:
                parts += ["--z", f"{s}.npy"] if not isinstance(s, int) else []
            numbers = [s for s in seeds if isinstance(s, int)]
            for name, st in specs:
                parts += ["--direction", f"{name}:{st:g}"]
            if classes:
                parts += ["--class", shlex.quote(classes[0])]
            parts += ["--out", shlex.quote(out)]
            return " ".join(parts) + self._projected_note(seeds) + (
                f"; and `gankit sample --seeds {compact_seeds(numbers)}` for the seeds"
                if numbers else "")
        parts = ["gankit", "sample", self._target_text(entry), "--seeds", compact_seeds(seeds)]
        if classes:
            parts += ["--class", shlex.quote(classes[0])]
        if cols:
            parts += ["--grid", f"{cols}x{-(-len(seeds) // cols)}"]
        if label:
            parts.append("--label")
        if truncation is not None:
            parts += ["--truncation", f"{truncation:g}"]
        for name, s in specs:
            parts += ["--direction", f"{name}:{s:g}"]
        parts += ["--out", shlex.quote(out)]
        cmd = " ".join(parts)
        if classes and len(classes) > 1:
            cmd += (f"  # gankit sample has no class mix; the studio mixed {classes[0]} with "
                    f"{classes[1]} at {classes[2]:g}")
        return cmd

    @staticmethod
    def _class_names(loaded: Loaded, pick):
        """(name a[, name b, mix]) of a class pick, for the command line."""
        if pick is None:
            return None
        names = loaded.spec.classes
        a, b, mix = pick
        return (names[a],) if b is None or not mix else (names[a], names[b], mix)

    def interpolate_command(self, entry, w: Walk, fps=None, size=None, out="interpolation"):
        parts = ["gankit", "interpolate", self._target_text(entry)]
        if len(w.seeds) == 2:
            for flag, s in (("a", w.seeds[0]), ("b", w.seeds[1])):
                parts += ([f"--seed-{flag}", str(s)] if isinstance(s, int)
                          else [f"--z-{flag}", f"{s}.npy"])
        else:
            parts += ["--seeds", ",".join(map(str, w.seeds))]
        parts += ["--steps", str(w.frames_per_segment), "--method", w.method]
        mixed = False
        if w.labels is not None and len(w.labels):  # a conditional run's walk: its class
            if w.labels.is_floating_point():
                mixed = True
                first = int(w.labels[0].argmax())
            else:
                first = int(w.labels[0])
            parts += ["--class-a", shlex.quote(w.loaded.spec.classes[first])]
        if w.loop:
            parts.append("--loop")
        parts.append("--gif")
        if fps is not None:
            parts += ["--fps", f"{fps:g}"]
        if size is not None:
            parts += ["--size", str(size)]
        if w.truncation is not None and all(isinstance(s, int) for s in w.seeds):
            parts += ["--truncation", f"{w.truncation:g}"]
        parts += ["--out", shlex.quote(out)]
        cmd = " ".join(parts) + self._projected_note(w.seeds)
        if w.specs:
            cmd += ("  # gankit interpolate adds no direction to a walk between seeds; "
                    "the studio added " + ", ".join(f"{n}:{s:g}" for n, s in w.specs))
        if mixed:
            cmd += "  # the studio mixed in a second class, which gankit interpolate cannot"
        return cmd

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
        from ..latent import default_method, list_directions, prior_of
        from ..models import UNCONDITIONAL

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

    def samples(self, run_id, seeds, truncation, specs, client=None, pick=None) -> dict:
        entry = self.catalog.get(run_id)

        def job():
            loaded = self._load(entry, refresh=True)
            self._unconditional_images(loaded)
            labels = self._labels(loaded, len(seeds), pick)
            u8 = self._draw(loaded, self._latents(loaded, seeds, truncation, specs), labels)
            return loaded, [data_url(png_bytes(img)) for img in u8]

        loaded, images = self.worker.submit(job, channel=client and f"{client}:grid")
        return {"run": entry.id, "step": loaded.checkpoint.step, "seeds": seeds,
                "images": images, "truncation": truncation,
                "directions": [[n, s] for n, s in specs],
                "command": self.sample_command(entry, seeds, truncation, specs,
                                               classes=self._class_names(loaded, pick))}

    def export_png(self, run_id, seeds, truncation, specs, cols, label,
                   pick=None) -> tuple[bytes, str, str]:
        entry = self.catalog.get(run_id)
        cols = min(cols or len(seeds), len(seeds))

        def job():
            from ..images import make_grid_uint8
            from ..sampling import labelled_grid

            loaded = self._load(entry, refresh=True)
            self._unconditional_images(loaded)
            labels = self._labels(loaded, len(seeds), pick)
            u8 = self._draw(loaded, self._latents(loaded, seeds, truncation, specs), labels)
            names = self._class_names(loaded, pick)
            if label:
                return pil_png_bytes(labelled_grid(u8, [str(s) for s in seeds], cols)), names
            return png_bytes(make_grid_uint8(u8, cols) if len(seeds) > 1 else u8[0]), names

        data, classes = self.worker.submit(job)
        name = safe_filename(f"{entry.name}_{settings_tag(seeds, truncation, specs)}") + ".png"
        cmd = self.sample_command(entry, seeds, truncation, specs,
                                  cols if len(seeds) > 1 else None, label, name,
                                  classes=classes)
        return data, name, cmd

    def walk(self, run_id, seeds, frames, method, loop, truncation, specs, channel=None,
             token=None, pick=None) -> Walk:
        entry = self.catalog.get(run_id)

        def job():
            from ..latent import chain, default_method

            loaded = self._load(entry, refresh=True)
            self._unconditional_images(loaded)
            m = default_method(loaded.model, loaded.config) if method == "auto" else method
            points = self._latents(loaded, seeds, truncation, [])
            z = chain(points, frames, m, loop=loop)
            if specs:  # the same offset on every frame
                z = self._latents_offset(loaded, z, specs)
            if pick is None and getattr(loaded.spec, "classes", ()):
                labels = self._labels(loaded, z.shape[0], (0, None, 0.0))  # one class
            else:
                labels = self._labels(loaded, z.shape[0], pick)
            return Walk(loaded, z, list(seeds), m, frames, loop, truncation, list(specs), labels)

        return self.worker.submit(job, channel, token)

    def _latents_offset(self, loaded, z, specs):
        from ..latent import apply_directions

        if loaded.run_dir is None:
            raise BadRequest("this checkpoint is not inside a run folder, so it has no "
                             "directions", 400)
        return apply_directions(z, loaded.run_dir, specs, loaded.model, loaded.config)

    def frames(self, w: Walk, start: int, stop: int, channel=None, token=None):
        """uint8 (C, H, W) frames ``start:stop`` of a walk (one worker job)."""
        labels = None if w.labels is None else w.labels[start:stop]
        return self.worker.submit(lambda: list(self._draw(w.loaded, w.z[start:stop], labels)),
                                  channel, token)

    def stream_walk(self, run_id, seeds, frames, method, loop, truncation, specs, client=None,
                    fps=None, pick=None):
        """Dicts for the page, one per line of the NDJSON answer: a start line, one line
        per frame (``FRAME_BATCH`` frames per worker job), then an end line. A newer walk
        from the same page ends this one with a "cancelled" line."""
        channel = client and f"{client}:walk"
        token = self.worker.claim(channel)
        w = self.walk(run_id, seeds, frames, method, loop, truncation, specs, channel, token,
                      pick)
        yield {"type": "start", "frames": w.count, "seeds": w.seeds, "method": w.method,
               "loop": w.loop, "step": w.loaded.checkpoint.step,
               "command": self.interpolate_command(w.loaded.entry, w, fps)}
        from .worker import Superseded

        for i in range(0, w.count, FRAME_BATCH):
            try:
                imgs = self.frames(w, i, min(i + FRAME_BATCH, w.count), channel, token)
            except Superseded:
                yield {"type": "cancelled"}
                return
            for k, img in enumerate(imgs):
                yield {"type": "frame", "i": i + k, "image": data_url(png_bytes(img))}
        yield {"type": "end", "frames": w.count}

    def export_gif(self, run_id, seeds, frames, method, loop, truncation, specs, fps, size,
                   pick=None):
        w = self.walk(run_id, seeds, frames, method, loop, truncation, specs, pick=pick)
        pics = []
        for i in range(0, w.count, FRAME_BATCH):  # batch by batch: other requests go between
            pics += [_pil(img, size) for img in self.frames(w, i, min(i + FRAME_BATCH, w.count))]
        buf = io.BytesIO()
        pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], loop=0,
                     duration=max(20, int(round(1000 / fps))), optimize=False, disposal=1)
        tag = settings_tag(seeds, truncation, specs)
        name = safe_filename(f"{w.loaded.entry.name}_{w.method}-{frames}{'-loop' if loop else ''}"
                             f"_{tag}_{fps:g}fps") + ".gif"
        return buf.getvalue(), name, self.interpolate_command(w.loaded.entry, w, fps, size,
                                                              name[:-4])

    def fit(self, run_id, name, positive, negative, replace) -> dict:
        entry = self.catalog.get(run_id)

        def job():
            from ..latent import direction_path, fit_direction, save_direction

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

    def translate(self, run_id, data: bytes, direction: str, client=None) -> dict:
        entry = self.catalog.get(run_id)

        def job():
            from ..models import TRANSLATION

            loaded = self._load(entry, refresh=True)
            if loaded.model.kind != TRANSLATION:
                raise BadRequest(f"run '{entry.id}' is not a translation model "
                                 f"('{loaded.model.name}' is {loaded.model.kind})", 400)
            img = decode_upload(data, loaded.spec.channels)
            other = "b2a" if direction == "a2b" else "a2b"
            work = prepare(img, loaded.spec.size)
            out = translate_image(loaded, work, direction, self._dev())
            back = (translate_image(loaded, out, other, self._dev())
                    if other in translations(loaded.model) else None)
            return {"run": entry.id, "step": loaded.checkpoint.step, "direction": direction,
                    "size": list(work.size), "input": data_url(pil_png_bytes(work)),
                    "output": data_url(pil_png_bytes(out)),
                    "back": data_url(pil_png_bytes(back)) if back is not None else None,
                    "command": " ".join(["gankit", "translate", self._target_text(entry),
                                         "IMAGE", "--direction", direction])}

        return self.worker.submit(job, channel=client and f"{client}:translate")

    def project(self, run_id, data: bytes, steps=None, client=None) -> dict:
        """An uploaded picture projected into the run's latent space (as `gankit project`
        does, ``PROJECTION_CHUNK`` steps per worker job): its id for ``seeds``
        (``p1``, ...), the picture as the model sees it, the projection and the distances."""
        from ..projection import STEPS, Perceptual, Projector, Settings, pick_distance  # torch

        entry = self.catalog.get(run_id)
        channel = client and f"{client}:project"
        token = self.worker.claim(channel) if channel else None
        settings = Settings(steps=steps or STEPS)

        def start():
            import numpy as np
            import torch

            loaded = self._load(entry, refresh=True)
            self._unconditional_images(loaded)
            img = decode_upload(data, loaded.spec.channels, size=loaded.spec.size)
            arr = np.asarray(img)
            arr = arr[..., None] if arr.ndim == 2 else arr
            x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
            name = pick_distance(settings.distance)
            perceptual = Perceptual(name, self._dev())
            return loaded, img, name, Projector(loaded.model, loaded.nets, loaded.config, x,
                                                settings, perceptual, self._dev())

        loaded, img, distance, projector = self.worker.submit(start, channel, token)
        while not projector.finished:  # a few steps per job: other requests go between
            self.worker.submit(lambda: projector.run(PROJECTION_CHUNK), channel, token)

        def finish():
            z, images, dp, dx, sp, sx, _ = projector.finish()
            self._projection_count += 1
            pid = f"p{self._projection_count}"
            self._projections[pid] = (entry.id, z[:1].clone(), "upload")
            while len(self._projections) > MAX_PROJECTIONS:
                self._projections.popitem(last=False)
            return pid, images, float(dp[0]), float(dx[0]), float(sp[0]), float(sx[0])

        pid, images, dp, dx, sp, sx = self.worker.submit(finish, channel, token)
        from ..images import to_uint8  # torch: as the module's other drawing code

        return {"run": entry.id, "step": loaded.checkpoint.step, "id": pid,
                "input": data_url(pil_png_bytes(img)),
                "image": data_url(png_bytes(to_uint8(images)[0])),
                "distance": distance, "perceptual": round(dp, 6), "pixel": round(dx, 6),
                "start_perceptual": round(sp, 6), "start_pixel": round(sx, 6),
                "steps": settings.steps,
                "command": " ".join(["gankit", "project", self._target_text(entry), "PICTURE",
                                     "--out", ".", "--steps", str(settings.steps)])}


# -- translation inputs --------------------------------------------------------------------


def translations(model) -> tuple:
    """The directions a translation model translates ("a2b", and "b2a" for two-way ones)."""
    return tuple(d for d in ("a2b", "b2a") if d in tuple(getattr(model, "directions", ())))


def decode_upload(data: bytes, channels: int, size: int | None = None):
    """Uploaded bytes -> a Pillow image (RGB or L), decoded only by
    :func:`gankit.imageio.decode_image` from a private temporary file; with ``size``
    resized and centre-cropped to ``size`` x ``size`` as training data is."""
    from PIL import Image, UnidentifiedImageError

    from ..files import atomic_write
    from ..imageio import decode_image

    with tempfile.TemporaryDirectory(prefix="gankit-studio-") as tmp:
        path = Path(tmp) / "upload"
        atomic_write(path, lambda t: Path(t).write_bytes(data))

        try:  # the header only: refuse huge images before anything is decoded
            with Image.open(path, formats=UPLOAD_FORMATS) as probe:  # the five named formats
                w, h = probe.size
        except Image.DecompressionBombError:
            raise BadRequest(f"the uploaded image has more than {MAX_UPLOAD_PIXELS:,} pixels "
                             "(the limit)", 413) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise BadRequest("the upload is not a readable PNG, JPEG, WebP, BMP or GIF image",
                             415) from None
        if w * h > MAX_UPLOAD_PIXELS:
            raise BadRequest(f"the uploaded image has {w}x{h} pixels; the limit is "
                             f"{MAX_UPLOAD_PIXELS:,} pixels", 413)
        try:
            arr = decode_image(path, size, mode="L" if channels == 1 else "RGB")
        except GankitError as exc:
            raise BadRequest(str(exc).replace(str(path), "the uploaded image"), 400) from None
    return Image.fromarray(arr[..., 0] if channels == 1 else arr)


def prepare(img, size: int):
    """The shorter side to the model's ``size`` (aspect kept, at most MAX_ASPECT:1 after a
    centre crop), as `gankit translate` does by default."""
    from PIL import Image

    w, h = img.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        if w > h:
            cw, ch = MAX_ASPECT * h, h
        else:
            cw, ch = w, MAX_ASPECT * w
        left, top = (w - cw) // 2, (h - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
        w, h = img.size
    s = size / min(w, h)
    work = (max(1, round(w * s)), max(1, round(h * s)))
    return img if img.size == work else img.resize(work, Image.Resampling.LANCZOS,
                                                   reducing_gap=3.0)


def translate_image(loaded: Loaded, img, direction: str, device):
    """A Pillow image through the model's ``translate`` at its own size (the same code as
    ``gankit translate``) -> a Pillow image of the same size."""
    from ..translation import translate_image as translate_at

    model = loaded.model
    try:
        return translate_at(model, loaded.nets, img, direction, img.size,
                            int(model.size_multiple(loaded.config, loaded.spec)), device)
    except UsageError as exc:
        raise BadRequest(str(exc)) from None


def _pil(u8_chw, size: int | None = None):
    """A uint8 (C, H, W) tensor as a Pillow image, resized to ``size`` x ``size`` if asked."""
    from PIL import Image

    arr = u8_chw.permute(1, 2, 0).contiguous().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    if size and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img
