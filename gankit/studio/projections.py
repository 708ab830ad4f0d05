"""The projection side: uploaded pictures projected into the latent space, pinned as tiles."""

from __future__ import annotations

from ..perceptual import Perceptual, pick_distance
from ..projection import STEPS, Projector, Settings
from .loaded import Loaded
from .pictures import data_url, pil_png_bytes, png_bytes
from .uploads import decode_upload
from .validate import BadRequest

MAX_PROJECTIONS = 64  # projected pictures kept (the oldest is forgotten first)
PROJECTION_CHUNK = 20  # optimisation steps per worker job


class Projections:
    """Part of :class:`~gankit.studio.app.Studio`: projected pictures by id (``p1``, ...),
    drawn in the places of seeds."""

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

    def project(self, run_id, data: bytes, steps=None, client=None) -> dict:
        """An uploaded picture projected into the run's latent space (as `gankit project`
        does, ``PROJECTION_CHUNK`` steps per worker job): its id for ``seeds``
        (``p1``, ...), the picture as the model sees it, the projection and the distances."""
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
