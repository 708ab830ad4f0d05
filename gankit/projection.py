"""From a picture to its latent: projection by optimising z (``gankit project``).

For each photo, the z whose generated picture looks most like it:

1. the photo is read as training read its pictures (:func:`gankit.imageio.decode_image`:
   shorter side resized to the model's size, centre square crop; a grey photo into a
   colour run is repeated to RGB, a colour photo into a grey run converted to grey);
2. ``candidates`` latents are drawn from the run's prior (a seeded generator) and the one
   nearest to the photo starts the optimisation;
3. ``steps`` Adam steps on z (learning rate ``lr`` with a 5 % warm-up and a cosine
   ramp-down over the last 25 %) minimise ``perceptual + pixel_weight * pixel`` while
   Gaussian noise of ``noise * sqrt(z_dim)`` per component, fading quadratically to zero
   at 75 % of the steps, is added to z (StyleGAN's projector's noise ramp): early steps
   explore, the last quarter settles. A uniform prior's z is kept in [-1, 1].

The perceptual distance is :mod:`gankit.perceptual` (EfficientNet-Lite0 features when
``gankit[projected]`` is installed, else a multi-scale distance without a network); every
result names the one used. The pixel distance is the root-mean-square difference with
pixels in [0, 1]. A result's latent is written by :func:`gankit.latent.save_latent`.

Several photos are optimised together as one batch (each has its own z and its own
loss; Adam is per component, so the batch changes nothing but the speed). Importing this
module does not import torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import console
from .bounds import check_seed
from .errors import UsageError
from .files import atomic_write
from .images import save_gif, side_by_side
from .latent import UNIFORM, prior_of, save_latent
from .models import UNCONDITIONAL, require_kind
from .perceptual import (EFFICIENTNET, FEATURE_SIZE, MULTISCALE,  # noqa: F401 (re-exported)
                         Perceptual, efficientnet_available, pick_distance,
                         pixel_distance)
from .photos import collect_photos, read_photos
from .sampling import generate

#: the defaults of ``gankit project`` (and of ``direction fit --positive-images``)
STEPS = 300
LR = 0.1
NOISE = 0.05
PIXEL_WEIGHT = 1.0
CANDIDATES = 64
BATCH = 16
MAX_IMAGES = 100
#: the largest --steps and --candidates accepted (--max-images: photos.MAX_IMAGES_LIMIT)
MAX_STEPS = 10_000
MAX_CANDIDATES = 4096
#: a GIF of the optimisation has at most this many frames
GIF_FRAMES = 40


@dataclass
class Settings:
    """How a projection runs (the command's flags)."""

    steps: int = STEPS
    lr: float = LR
    noise: float = NOISE
    pixel_weight: float = PIXEL_WEIGHT
    candidates: int = CANDIDATES
    batch: int = BATCH
    seed: int = 0
    gif: bool = False
    distance: str = "auto"  # auto | efficientnet-lite0 | multiscale

    def check(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise UsageError(f"--steps {self.steps}: choose 1 to {MAX_STEPS}")
        if not (0 < self.lr <= 10 and math.isfinite(self.lr)):
            raise UsageError(f"--lr {self.lr}: choose a positive number up to 10, e.g. {LR}")
        if not (0 <= self.noise <= 10 and math.isfinite(self.noise)):
            raise UsageError(f"--noise {self.noise}: choose 0 to 10, e.g. {NOISE}")
        if not (0 <= self.pixel_weight <= 1000 and math.isfinite(self.pixel_weight)):
            raise UsageError(f"--pixel-weight {self.pixel_weight}: choose 0 to 1000")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise UsageError(f"--candidates {self.candidates}: choose 1 to {MAX_CANDIDATES}")
        if not 1 <= self.batch <= 256:
            raise UsageError(f"--batch {self.batch}: choose 1 to 256")
        if self.distance not in ("auto", EFFICIENTNET, MULTISCALE):
            raise UsageError(f"--distance {self.distance}: choose auto, {EFFICIENTNET} "
                             f"or {MULTISCALE}")


#: the optimisation's flags (click option declarations and settings), shared by
#: `gankit project` and `gankit direction fit --positive-images`
FLAGS = [
    (("--steps",), dict(type=int, default=STEPS, show_default=True,
                        help="Adam steps on z per picture.")),
    (("--lr",), dict(type=float, default=LR, show_default=True,
                     help="Adam's learning rate (5% warm-up, cosine ramp-down over the last "
                          "quarter).")),
    (("--noise",), dict(type=float, default=NOISE, show_default=True,
                        help="Noise added to z at the start, times sqrt(z_dim); it fades to 0 "
                             "at 75% of the steps.")),
    (("--pixel-weight",), dict(type=float, default=PIXEL_WEIGHT, show_default=True,
                               help="Weight of the pixel term (mean squared difference) beside "
                                    "the perceptual distance.")),
    (("--candidates",), dict(type=int, default=CANDIDATES, show_default=True,
                             help="Random latents tried first; the nearest one starts the "
                                  "optimisation.")),
    (("--distance",), dict(type=str, default="auto", show_default=True,
                           help=f"Perceptual distance: auto, {EFFICIENTNET} or {MULTISCALE}. "
                                f"auto is {EFFICIENTNET} features when gankit[projected] is "
                                f"installed, else {MULTISCALE} (pixel and gradient differences "
                                "at four scales, no network).")),
    (("--batch",), dict(type=int, default=BATCH, show_default=True,
                        help="Pictures optimised together.")),
    (("--seed",), dict(type=int, default=0, show_default=True,
                       help="Seed of the candidates and of the noise.")),
    (("--max-images",), dict(type=int, default=MAX_IMAGES, show_default=True,
                             help="At most this many pictures (a bigger folder is sampled "
                                  "evenly).")),
    (("--no-ema", "no_ema"), dict(is_flag=True, help="Use the trained generator itself, not "
                                                     "its EMA average.")),
    (("--device",), dict(default="auto", show_default=True)),
]
SETTING_FLAGS = ("steps", "lr", "noise", "pixel_weight", "candidates", "distance", "batch",
                 "seed")


def settings_of(flags: dict, gif: bool = False) -> Settings:
    """Settings from the command's parsed FLAGS (checked)."""
    check_seed("--seed", flags["seed"])
    s = Settings(gif=gif, **{k: flags[k] for k in SETTING_FLAGS})
    s.check()
    return s


@dataclass
class Result:
    """One photo's projection."""

    photo: Path
    name: str
    z: object  # (1, z_dim) float32 tensor on the CPU
    target: object  # (C, H, W) in [-1, 1]: the photo as the model sees it
    image: object  # (C, H, W) in [-1, 1]: the projection
    perceptual: float
    pixel: float
    start_perceptual: float
    start_pixel: float
    frames: list = field(default_factory=list)  # (C, H, W) images during the optimisation
    files: dict = field(default_factory=dict)

    def as_dict(self, distance: str) -> dict:
        return {"photo": str(self.photo), "name": self.name, "distance": distance,
                "perceptual": round(self.perceptual, 6), "pixel": round(self.pixel, 6),
                "start_perceptual": round(self.start_perceptual, 6),
                "start_pixel": round(self.start_pixel, 6),
                **{k: str(v) for k, v in self.files.items()}}


# -- the optimisation ---------------------------------------------------------------------


def _lr_at(t: float, base: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """StyleGAN's projector schedule: a short warm-up, a cosine ramp-down at the end."""
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / rampup)


class Projector:
    """The optimisation of one batch, run in pieces: ``run(k)`` does up to ``k`` more
    steps (the studio runs a few at a time between other requests), ``finish()`` gives
    the result. Construction picks the starting latents among the candidates."""

    def __init__(self, model, nets, config, targets, settings: Settings,
                 perceptual: Perceptual, device="cpu", init=None):
        import torch

        self.model, self.nets, self.settings, self.perceptual = model, nets, settings, perceptual
        for net in nets.values():
            net.requires_grad_(False)
        n = targets.shape[0]
        self.y = y = targets.to(device)
        dim = model.z_dim(config)
        self.uniform = prior_of(model, config) == UNIFORM
        with torch.no_grad():
            self.fy = fy = perceptual.features(y)
            gen = torch.Generator().manual_seed(int(settings.seed))
            cand = model.latent(config, settings.candidates, generator=gen).to(device)
            best = torch.full((n,), float("inf"), device=device)
            start = torch.zeros(n, dim, device=device)
            for i in range(0, cand.shape[0], 64):
                zc = cand[i:i + 64]
                xc = model.generate(nets, zc).float()
                fc = perceptual.features(xc)
                for j in range(n):  # every candidate against photo j
                    d = perceptual.distance(fc, [f[j:j + 1] for f in fy])
                    if settings.pixel_weight:
                        d = d + settings.pixel_weight * ((xc - y[j:j + 1]) / 2).pow(2).mean((1, 2, 3))
                    k = torch.argmin(d)
                    better = d[k] < best[j]
                    best[j] = torch.where(better, d[k], best[j])
                    start[j] = torch.where(better, zc[k], start[j])
            if init is not None:  # an encoder's guess, where it beats the candidates
                zi = init.to(device).float()
                xi = model.generate(nets, zi).float()
                d = perceptual.distance(perceptual.features(xi), fy)
                if settings.pixel_weight:
                    d = d + settings.pixel_weight * ((xi - y) / 2).pow(2).mean((1, 2, 3))
                start = torch.where((d < best).reshape(-1, 1), zi, start)
            x0 = model.generate(nets, start).float()
            self.start_p = perceptual.distance(perceptual.features(x0), fy).cpu()
            self.start_px = pixel_distance(x0, y).cpu()
        self.z = start.clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.z], lr=settings.lr, betas=(0.9, 0.999))
        self.noise0 = settings.noise * math.sqrt(dim)
        self.noise_gen = torch.Generator(device=self.z.device).manual_seed(int(settings.seed))
        self.frames: list = []
        self.every = max(1, settings.steps // GIF_FRAMES)
        self.done = 0

    @property
    def finished(self) -> bool:
        return self.done >= self.settings.steps

    def run(self, k: int | None = None, on_step=None) -> None:
        """Up to ``k`` more steps (all that are left with None). ``on_step(done, info)``
        after each; ``info`` is the mean loss every 25 steps, else ''."""
        import torch

        s, z, y = self.settings, self.z, self.y
        stop = s.steps if k is None else min(s.steps, self.done + k)
        while self.done < stop:
            t = self.done / s.steps
            for group in self.opt.param_groups:
                group["lr"] = _lr_at(t, s.lr)
            strength = self.noise0 * max(0.0, 1.0 - t / 0.75) ** 2
            zn = z
            if strength > 0:
                zn = z + torch.randn(z.shape, generator=self.noise_gen, device=z.device) * strength
            x = self.model.generate(self.nets, zn).float()
            loss = self.perceptual.distance(self.perceptual.features(x), self.fy)
            if s.pixel_weight:
                loss = loss + s.pixel_weight * ((x - y) / 2).pow(2).mean((1, 2, 3))
            self.opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            self.opt.step()
            if self.uniform:
                with torch.no_grad():
                    z.clamp_(-1.0, 1.0)
            if s.gif and self.done % self.every == 0:
                self.frames.append(x.detach().cpu())
            self.done += 1
            if on_step is not None:
                on_step(self.done, f"distance {float(loss.detach().mean()):.4f}"
                        if self.done % 25 == 0
                        else "")

    def finish(self):
        """(z, images, perceptual, pixel, start perceptual, start pixel, frames), on the CPU."""
        import torch

        with torch.no_grad():
            zf = self.z.detach()
            x = generate(self.model, self.nets, zf).to(zf.device)  # as `gankit sample` draws it
            dp = self.perceptual.distance(self.perceptual.features(x), self.fy)
            dx = pixel_distance(x, self.y)
        frames = self.frames + ([x.cpu()] if self.settings.gif else [])
        return (zf.cpu().float().contiguous(), x.cpu(), dp.cpu(), dx.cpu(), self.start_p,
                self.start_px, frames)


def project_batch(model, nets, config, targets, settings: Settings, perceptual: Perceptual,
                  device="cpu", on_step=None):
    """Project a batch of photos (N, C, H, W) in [-1, 1] in one go: what
    :meth:`Projector.finish` returns."""
    p = Projector(model, nets, config, targets, settings, perceptual, device)
    p.run(None, on_step)
    return p.finish()


# -- whole commands --------------------------------------------------------------------------


def check_projectable(model, spec, command: str) -> None:
    """Refuse translation models and non-image data in one line."""
    require_kind(model, UNCONDITIONAL, command,
                 "a translation model maps images to images and has no latent space to "
                 "project into; use `gankit translate`")
    if spec.kind != "image":
        raise UsageError(f"'{model.name}' makes {spec.kind} data, not images; `gankit "
                         f"{command}` finds the latent of a picture")


def project_photos(model, nets, config, spec, photos, targets, settings: Settings, *,
                   device="cpu", label: str = "project",
                   encoder=None) -> tuple[list[Result], str]:
    """Project every photo (batches of ``settings.batch``) with a progress bar; returns the
    results and the name of the perceptual distance used."""
    settings.check()
    name = pick_distance(settings.distance)
    perceptual = Perceptual(name, device)
    results: list[Result] = []
    total = len(photos) * settings.steps
    with console.progress() as prog:
        task = prog.add_task(label, total=total, rate="", info=name)
        for i in range(0, len(photos), settings.batch):
            chunk = targets[i:i + settings.batch]
            base = i * settings.steps

            def on_step(done, info, base=base, k=chunk.shape[0]):
                prog.update(task, completed=base + done * k, **({"info": info} if info else {}))

            init = None
            if encoder is not None:
                import torch

                with torch.no_grad():
                    init = encoder(chunk.to(device))
            projector = Projector(model, nets, config, chunk, settings, perceptual, device, init)
            projector.run(None, on_step)
            z, imgs, dp, dx, sp, sx, frames = projector.finish()
            for j in range(chunk.shape[0]):
                results.append(Result(
                    photo=photos[i + j], name="", z=z[j:j + 1].clone(), target=chunk[j],
                    image=imgs[j], perceptual=float(dp[j]), pixel=float(dx[j]),
                    start_perceptual=float(sp[j]), start_pixel=float(sx[j]),
                    frames=[f[j] for f in frames]))
    return results, name


def output_names(photos) -> list[str]:
    """A file stem per photo: its own, with -2, -3 ... where two photos share one."""
    names, used = [], set()
    for p in photos:
        stem = Path(p).stem or "photo"
        name, k = stem, 2
        while name in used:
            name, k = f"{stem}-{k}", k + 1
        used.add(name)
        names.append(name)
    return names


def planned_files(out: Path, names, gif: bool) -> list[Path]:
    exts = (".npy", ".png") + ((".gif",) if gif else ())
    return [out / f"{n}{e}" for n in names for e in exts]


def write_results(results: list[Result], out: Path, *, fps: float = 12) -> None:
    """NAME.npy, NAME.png (photo | projection) and, where frames were kept, NAME.gif."""
    for r in results:
        r.files["latent"] = save_latent(out / f"{r.name}.npy", r.z)
        pair = side_by_side(r.target, r.image)
        png = out / f"{r.name}.png"
        atomic_write(png, lambda tmp, im=pair: im.save(tmp, format="PNG"))
        r.files["image"] = png
        if r.frames:
            gif = out / f"{r.name}.gif"
            save_gif([side_by_side(r.target, f) for f in r.frames], gif, fps=fps)
            r.files["gif"] = gif


def dumps(results: list[Result], distance: str) -> str:
    return json.dumps([r.as_dict(distance) for r in results], indent=2)


# -- directions from real pictures ------------------------------------------------------------


def latents_of_folders(model, nets, config, spec, positive: str, negative: str,
                       settings: Settings, max_images: int, device="cpu"):
    """Project the pictures of two folders: (positive latents, negative latents, the
    positive files, the negative files, the perceptual distance used). Unreadable
    pictures are skipped with one warning; both folders must hold readable ones."""
    import torch

    pos = collect_photos([positive], "--positive-images", max_images)
    neg = collect_photos([negative], "--negative-images", max_images)
    shared = {p.resolve() for p in pos} & {p.resolve() for p in neg}
    if shared:
        raise UsageError(f"--positive-images and --negative-images share {len(shared)} "
                         f"picture(s), e.g. {sorted(shared)[0]}; give two separate folders")
    xp, pos = read_photos(pos, spec, flag="--positive-images", skip_bad=True)
    xn, neg = read_photos(neg, spec, flag="--negative-images", skip_bad=True)
    results, used = project_photos(model, nets, config, spec, pos + neg, torch.cat([xp, xn]),
                                   settings, device=device, label="project both folders")
    z = torch.cat([r.z for r in results])
    return z[:len(pos)], z[len(pos):], pos, neg, used, results
