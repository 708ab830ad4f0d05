"""The latent space: seeds to z, truncation, attribute directions, latent files.

The paths between points (lerp, slerp, chains, walks along a direction) and how many
frames they make are :mod:`gankit.walks`; their names are importable from here too.

Directions
----------
An attribute direction is the mean z of some seeds ("positive": they show the
attribute) minus the mean z of others ("negative"), as in the anime-face article's
"long hair" vector. It is stored in ``RUN/directions/NAME.safetensors`` (one float32
tensor ``direction`` plus string metadata); strength 1 moves a point by exactly that
difference. Importing this module does not import torch.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .bounds import check_truncation as check_bounds
from .checkpoints import read_header
from .errors import CheckpointError, GankitError, UsageError
from .files import atomic_write, read_regular
from .run import Run
from .walks import METHODS, chain, frame_count, lerp, slerp, walk  # noqa: F401 (re-exported)

GAUSSIAN = "gaussian"
UNIFORM = "uniform"
DIRECTION_FORMAT = "1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# -- seeds to latent codes --------------------------------------------------------------


def prior_of(model, config=None) -> str:
    """The run's z distribution: the config's ``prior`` where the model lets the user
    choose it (vanilla's ``--set prior=``), else the model's."""
    chosen = getattr(config, "prior", None)
    if chosen in (GAUSSIAN, UNIFORM):
        return chosen
    return getattr(model, "prior", GAUSSIAN) or GAUSSIAN


def truncate_(z, threshold: float, generator, max_rounds: int = 10_000):
    """Resample (in place) the components of Gaussian ``z`` with ``|z| > threshold``
    from N(0, 1) until none is left: the truncation trick of BigGAN."""
    import torch

    for _ in range(max_rounds):
        bad = z.abs() > threshold
        if not bool(bad.any()):
            return z
        fresh = torch.randn(z.shape, generator=generator, dtype=z.dtype)
        z = torch.where(bad, fresh, z)
    return z.clamp_(-threshold, threshold)  # astronomically unlikely


def check_truncation(model, threshold, config=None) -> None:
    """Refuse ``--truncation`` where it means nothing."""
    if threshold is None:
        return
    if prior_of(model, config) != GAUSSIAN:
        raise UsageError(
            f"--truncation: model '{model.name}' draws z uniformly from [-1, 1], which is "
            "already bounded; truncation only applies to Gaussian priors (drop the flag)"
        )
    if not threshold > 0:
        raise UsageError(f"--truncation {threshold}: must be a positive number like 0.7")
    check_bounds("--truncation", threshold)


def latents_for_seeds(model, config, seeds, device="cpu", truncation: float | None = None):
    """One latent per seed, each reproducible from its seed alone.

    With ``truncation`` (Gaussian priors), components beyond ``|truncation|`` are
    redrawn from the same seed's generator, so a truncated sample is reproducible too.
    """
    import torch

    check_truncation(model, truncation, config)
    zs = []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        z = model.latent(config, 1, generator=g)
        if truncation is not None:
            z = truncate_(z, float(truncation), g)
        zs.append(z)
    return torch.cat(zs).to(device)


def default_method(model, config=None) -> str:
    """slerp for Gaussian z (it stays on the shell where samples live), lerp for uniform z."""
    return "lerp" if prior_of(model, config) == UNIFORM else "slerp"


# -- runs and directions -------------------------------------------------------------------


def run_dir_of(checkpoint) -> Path | None:
    """The run folder holding a checkpoint (``RUN/checkpoints/step-*.safetensors``)."""

    run = Run.of_checkpoint(Path(checkpoint.path).resolve())
    return run.path if run is not None else None


def require_run_dir(checkpoint, flag: str) -> Path:
    run = run_dir_of(checkpoint)
    if run is None:
        raise GankitError(
            f"{checkpoint.path}: not inside a run folder (RUN/checkpoints/step-*.safetensors), "
            f"so it has no directions/ for {flag}; pass the run folder instead"
        )
    return run


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"direction name '{name}': use letters, digits, '_', '-' or '.' (at most 64), "
            "e.g. tuna or long-hair"
        )
    return name


def direction_path(run_dir: Path, name: str) -> Path:
    return Run(run_dir).direction_path(check_name(name))


def parse_direction_spec(text: str) -> tuple[str, float]:
    """``NAME:STRENGTH`` (``tuna:1.5``, ``tuna:-2``); a bare ``NAME`` means strength 1."""
    name, sep, strength = text.rpartition(":")
    if not sep:
        name, strength = text, "1"
    try:
        value = float(strength)
    except ValueError:
        raise UsageError(
            f"--direction {text}: expected NAME:STRENGTH, e.g. tuna:1.5 or tuna:-2"
        ) from None
    if value != value or abs(value) == float("inf"):
        raise UsageError(f"--direction {text}: the strength must be a finite number")
    check_name(name)
    return name, value


def fit_direction(model, config, positive, negative):
    """Mean z of the positive seeds minus mean z of the negative ones (float32, (D,))."""
    both = set(positive) & set(negative)
    if both:
        raise UsageError(
            f"--positive and --negative share seed(s) {', '.join(map(str, sorted(both)))}"
        )
    zp = latents_for_seeds(model, config, positive)
    zn = latents_for_seeds(model, config, negative)
    return (zp.mean(0) - zn.mean(0)).float().contiguous()


FIT_METHODS = ("mean", "classifier")


def fit_vector(zp, zn, method: str = "mean", l2: float = 1e-2, steps: int = 200):
    """A direction from latents that show an attribute (``zp``, (P, D)) and latents that
    do not (``zn``): ``mean``, the difference of the means; ``classifier``, the normal of
    an L2-regularised logistic regression separating them, scaled so that strength 1
    moves a point by the means' difference along that normal. float32, (D,)."""
    import torch

    if method not in FIT_METHODS:
        raise UsageError(f"--method {method}: choose {' or '.join(FIT_METHODS)}")
    zp, zn = zp.detach().float().cpu(), zn.detach().float().cpu()
    diff = zp.mean(0) - zn.mean(0)
    if method == "mean":
        return diff.contiguous()
    x = torch.cat([zp, zn])
    y = torch.cat([torch.ones(len(zp)), torch.zeros(len(zn))])
    weight = torch.where(y > 0, 0.5 / len(zp), 0.5 / len(zn))  # both sides count alike
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = x @ w + b
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(
            logits, y, reduction="none") * weight).sum() + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    n = w.detach()
    norm = n.norm()
    if not bool(torch.isfinite(norm)) or float(norm) == 0.0:
        return diff.contiguous()  # nothing separates them: fall back to the means
    n = n / norm
    return (n * (diff @ n)).float().contiguous()


def save_direction(run_dir: Path, name: str, vector, *, model, config, checkpoint,
                   positive, negative, positive_text: str = "", negative_text: str = "",
                   extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    path = direction_path(run_dir, name)
    meta = {
        "gankit.direction": DIRECTION_FORMAT,
        "name": name,
        "model": model.name,
        "model_version": str(model.version),
        "prior": prior_of(model, config),
        "z_dim": str(int(vector.numel())),
        "positive": positive_text or ",".join(map(str, positive)),
        "negative": negative_text or ",".join(map(str, negative)),
        "n_positive": str(len(positive)),
        "n_negative": str(len(negative)),
        "step": str(checkpoint.step),
        "checkpoint": Path(checkpoint.path).name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **{k: str(v) for k, v in (extra or {}).items()},
    }
    tensor = vector.detach().cpu().float().contiguous()
    atomic_write(path, lambda tmp: save_file({"direction": tensor}, tmp, metadata=meta))
    return path


def _read_direction(path: Path):
    """(vector, metadata) of a direction file, or a GankitError naming the file."""
    from safetensors import safe_open

    try:
        meta = read_header(path)
    except CheckpointError as exc:
        raise GankitError(f"{exc} (a damaged direction; fit it again)") from None
    if meta.get("gankit.direction") != DIRECTION_FORMAT:
        raise GankitError(f"{path}: not a gankit direction file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            vec = fh.get_tensor("direction")
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
        raise GankitError(f"{path}: cannot read the direction ({exc})") from None
    if vec.dim() != 1:
        raise GankitError(f"{path}: the direction is not a vector")
    return vec.float(), meta


def available_directions(run_dir: Path) -> list[str]:
    d = Run(run_dir).directions_dir
    return sorted(p.stem for p in d.glob("*.safetensors")) if d.is_dir() else []


def load_direction(run_dir: Path, name: str, model, config):
    """The vector of direction ``name`` of a run, checked against the model's z."""
    path = direction_path(run_dir, name)
    if not path.is_file():
        have = available_directions(run_dir)
        raise GankitError(
            f"no direction '{name}' in {path.parent}"
            + (f" (have: {', '.join(have)})" if have else "")
            + f"; fit it with `gankit direction fit {name} {run_dir} --positive SEEDS "
            "--negative SEEDS`"
        )
    vec, meta = _read_direction(path)
    want = model.z_dim(config)
    if vec.numel() != want or meta.get("model") not in (None, model.name):
        raise GankitError(
            f"{path}: made for model '{meta.get('model')}' with z_dim {vec.numel()}, this run "
            f"is '{model.name}' with z_dim {want}; fit it again"
        )
    return vec


def list_directions(run_dir: Path) -> list[dict]:
    rows = []
    for name in available_directions(run_dir):
        path = direction_path(run_dir, name)
        try:
            vec, meta = _read_direction(path)
        except GankitError as exc:
            rows.append({"name": name, "path": str(path), "error": str(exc)})
            continue
        rows.append({
            "name": name,
            "path": str(path),
            "model": meta.get("model"),
            "z_dim": int(vec.numel()),
            "norm": round(float(vec.norm()), 4),
            "positive": meta.get("positive", ""),
            "negative": meta.get("negative", ""),
            "n_positive": int(meta.get("n_positive", 0) or 0),
            "n_negative": int(meta.get("n_negative", 0) or 0),
            "source": meta.get("source", "seeds"),
            "method": meta.get("method", "mean"),
            "step": int(meta.get("step", 0) or 0),
            "created": meta.get("created", ""),
        })
    return rows


def apply_directions(z, run_dir, specs, model, config):
    """``z + sum(strength * direction)`` for ``NAME:STRENGTH`` specs."""
    for name, strength in specs:
        vec = load_direction(run_dir, name, model, config)
        z = z + strength * vec.to(z.device, z.dtype).reshape(1, -1)
    return z


def dumps(rows) -> str:
    return json.dumps(rows, indent=2)


# -- latent files (gankit project writes them; --z reads them) --------------------------------


def save_latent(path: Path, z) -> Path:
    """A latent as ``.npy``: float32, shape (1, z_dim), no pickle; written atomically."""
    import numpy as np

    arr = z.detach().cpu().float().numpy().reshape(1, -1)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)

    atomic_write(Path(path), write)
    return Path(path)


#: a latent file larger than this is not one gankit wrote (4096 latents of z_dim 512)
MAX_Z_FILE = 8 * 1024 * 1024 + 4096


def read_z_file(path, model, config, flag: str = "--z"):
    """The latents of a ``.npy`` file written by ``gankit project`` (or by hand): float
    values, shape (z_dim,) or (N, z_dim), all finite; a (N, z_dim) float32 tensor.
    No pickle is ever read. One error line naming the flag and the file otherwise."""
    import io

    import numpy as np
    import torch

    p = Path(path)
    want = model.z_dim(config)
    if not p.is_file():
        raise UsageError(f"{flag} {path}: no such file; give a .npy latent written by "
                         "`gankit project`")
    data = read_regular(p, MAX_Z_FILE)
    if data is None:
        raise GankitError(f"{flag} {path}: unreadable, not a regular file or larger than "
                          f"{MAX_Z_FILE // (1024 * 1024)} MB; a latent file is a few hundred bytes")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types for a bad file
        raise GankitError(f"{flag} {path}: not a .npy latent ({' '.join(str(exc).split())[:120]}); "
                          "use a file written by `gankit project`") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise GankitError(f"{flag} {path}: holds {getattr(arr, 'dtype', type(arr).__name__)} "
                          "values, a latent holds floats; use a file written by `gankit project`")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != want or arr.shape[0] < 1:
        raise GankitError(f"{flag} {path}: shape {tuple(arr.shape)}, model '{model.name}' "
                          f"needs ({want},) or (N, {want}); project a picture with this run "
                          "(gankit project)")
    if not np.isfinite(arr).all():
        raise GankitError(f"{flag} {path}: holds NaN or infinite values; project the picture "
                          "again (gankit project)")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).clone()
