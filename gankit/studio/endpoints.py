"""The studio's endpoints: each /api/ route's parameters checked, then the studio asked.

Part of :class:`~gankit.studio.server.Handler`, which routes requests here (``ROUTES``).
"""

from __future__ import annotations

import json

from ..errors import GankitError
from ..latent import available_directions
from . import validate as v
from .validate import BadRequest

Q_RUN = {"run"}
Q_IMAGES = Q_RUN | {"seeds", "truncation", "directions", "client", "class", "class_b", "mix"}
Q_WALK = Q_IMAGES | {"frames", "method", "loop", "fps"}


class Endpoints:
    """The ``api_*`` methods of :class:`~gankit.studio.server.Handler`."""

    def api_runs(self, url):
        self._query(url, set())
        self._json(self.server.studio.runs())

    def api_run(self, url):
        q = self._query(url, Q_RUN)
        self._json(self.server.studio.info(v.one(q, "run")))

    def _image_params(self, q, max_seeds=v.MAX_SAMPLES):
        studio = self.server.studio
        run = v.one(q, "run")
        entry = studio.catalog.get(run)  # 404 for an unknown run before anything else
        seeds = v.seed_list(v.one(q, "seeds", required=True), "seeds", max_seeds,
                            projections=True)
        trunc = v.truncation(q)
        have = None
        if entry.run_dir is not None:
            have = available_directions(entry.run_dir)
        specs = v.direction_specs(q, have if have is not None else [])
        return run, seeds, trunc, specs

    def api_samples(self, url):
        q = self._query(url, Q_IMAGES)
        run, seeds, trunc, specs = self._image_params(q)
        self._json(self.server.studio.samples(run, seeds, trunc, specs, v.client(q),
                                              pick=v.class_pick(q)))

    def _walk_params(self, q):
        run, seeds, trunc, specs = self._image_params(q, v.MAX_POINTS)
        if len(seeds) < 2:
            raise BadRequest("'seeds': pin at least two seeds to walk between")
        frames = v.integer(q, "frames", 24, 2, v.MAX_FRAMES_PER_SEGMENT)
        loop = v.flag(q, "loop")
        total = len(seeds) * (frames - 1) if loop else (len(seeds) - 1) * (frames - 1) + 1
        if total > v.MAX_FRAMES:
            raise BadRequest(f"{total} frames is too many (at most {v.MAX_FRAMES}); use fewer "
                             "frames or seeds")
        method = v.choice(q, "method", ("auto", "lerp", "slerp"), "auto")
        fps = v.number(q, "fps", 12.0, v.MIN_FPS, v.MAX_FPS)
        return run, seeds, frames, method, loop, trunc, specs, fps

    def api_walk(self, url):
        q = self._query(url, Q_WALK)
        run, seeds, frames, method, loop, trunc, specs, fps = self._walk_params(q)
        lines = self.server.studio.stream_walk(run, seeds, frames, method, loop, trunc, specs,
                                               v.client(q), fps, pick=v.class_pick(q))
        first = next(lines)  # errors before the first frame get their own status
        self._headers(200, "application/x-ndjson")
        try:
            self.wfile.write((json.dumps(first) + "\n").encode())
            try:
                for line in lines:
                    self.wfile.write((json.dumps(line) + "\n").encode())
            except (BadRequest, GankitError) as exc:
                self.wfile.write((json.dumps({"type": "error", "error": str(exc)}) + "\n").encode())
        finally:
            lines.close()

    def _download(self, data: bytes, name: str, ctype: str, command: str):
        extra = {"Content-Disposition": f'attachment; filename="{name}"'}
        if command.isascii() and command.isprintable():
            extra["X-Gankit-Command"] = command
        self._send(200, data, ctype, extra)

    def api_export_png(self, url):
        q = self._query(url, (Q_IMAGES - {"client"}) | {"cols", "label"})
        run, seeds, trunc, specs = self._image_params(q)
        cols = v.integer(q, "cols", None, 1, v.MAX_SAMPLES)
        label = v.flag(q, "label")
        data, name, cmd = self.server.studio.export_png(run, seeds, trunc, specs, cols, label,
                                                        pick=v.class_pick(q))
        self._download(data, name, "image/png", cmd)

    def api_export_gif(self, url):
        q = self._query(url, (Q_WALK - {"client"}) | {"size"})
        run, seeds, frames, method, loop, trunc, specs, fps = self._walk_params(q)
        size = v.integer(q, "size", None, 8, 512)
        total = len(seeds) * (frames - 1) if loop else (len(seeds) - 1) * (frames - 1) + 1
        if size and total * size * size > v.MAX_GIF_PIXELS:
            raise BadRequest(f"a GIF of {total} frames at {size} px is too large; use fewer "
                             "frames or a smaller size")
        data, name, cmd = self.server.studio.export_gif(run, seeds, frames, method, loop, trunc,
                                                        specs, fps, size, pick=v.class_pick(q))
        self._download(data, name, "image/gif", cmd)

    def api_directions(self, url):
        self._query(url, set())
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise BadRequest("send the direction as JSON (Content-Type: application/json)", 415)
        try:
            body = json.loads(self._body(v.MAX_JSON, "the JSON body"))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body is not valid JSON") from None
        except RecursionError:
            raise BadRequest("the body is nested too deeply") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        unknown = sorted(set(body) - {"run", "name", "positive", "negative", "replace"})
        if unknown:
            raise BadRequest(f"unknown field '{str(unknown[0])[:40]}' (fields: run, name, "
                             "positive, negative, replace)")
        run = body.get("run")
        if run is not None and not isinstance(run, str):
            raise BadRequest("'run': expected a run id from /api/runs")
        name = v.direction_name(body.get("name"))
        pos = v.seeds_from_json(body.get("positive"), "positive")
        neg = v.seeds_from_json(body.get("negative"), "negative")
        replace = body.get("replace", False)
        if not isinstance(replace, bool):
            raise BadRequest("'replace': expected true or false")
        both = sorted(set(pos) & set(neg))
        if both:
            raise BadRequest(f"seed {both[0]} is marked both positive and negative")
        self._json(self.server.studio.fit(run, name, pos, neg, replace), 201)

    def api_translate(self, url):
        q = self._query(url, {"run", "direction", "client"})
        run = v.one(q, "run")
        self.server.studio.catalog.get(run)
        direction = v.choice(q, "direction", ("a2b", "b2a"), "a2b")
        client = v.client(q)
        v.upload_type(self.headers.get("Content-Type"))
        data = self._body(v.MAX_UPLOAD, "the uploaded image")
        if not data:
            raise BadRequest("the upload is empty; send an image file")
        self._json(self.server.studio.translate(run, data, direction, client))

    def api_project(self, url):
        q = self._query(url, {"run", "steps", "client"})
        run = v.one(q, "run")
        self.server.studio.catalog.get(run)
        steps = v.integer(q, "steps", None, 1, v.MAX_PROJECTION_STEPS)
        client = v.client(q)
        v.upload_type(self.headers.get("Content-Type"))
        data = self._body(v.MAX_UPLOAD, "the uploaded image")
        if not data:
            raise BadRequest("the upload is empty; send an image file")
        self._json(self.server.studio.project(run, data, steps, client))
