"""Samples, grids and walks, and their PNG and GIF exports."""

from __future__ import annotations

import io

from ..images import make_grid_uint8
from ..latent import apply_directions, default_method
from ..sampling import labelled_grid
from ..walks import chain
from .commands import safe_filename, settings_tag
from .loaded import Walk
from .pictures import _pil, data_url, pil_png_bytes, png_bytes
from .validate import BadRequest
from .worker import Superseded

FRAME_BATCH = 8  # animation frames per worker job


class Grids:
    """Part of :class:`~gankit.studio.app.Studio`: drawing from seeds (and pinned tiles)."""

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
