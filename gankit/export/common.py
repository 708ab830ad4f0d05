"""What every export format shares: the loaded generator, the wrapper that is exported,
the metadata written into the file, and the check of an exported file against PyTorch.

The exported computation is a small wrapper around the model's own ``generate`` (or
``translate``), so plugins' models export as they sample:

* unconditional models: ``z`` (N, z_dim) float32 -> ``images`` (N, C, H, W) float32
  in [0, 1]; with ``uint8`` -> ``images`` (N, H, W, C) uint8 (0..255, what
  ``gankit sample`` writes into PNGs); vector data (2-D toy sets) -> ``samples``
  (N, D) float32 as the generator makes them;
* class-conditional runs: a second input ``labels`` (N,) int64, the class of each z
  (the class names in the metadata, ``gankit.classes``);
* translation models (one file per direction): ``images`` (N, C, H, W) float32 in
  [0, 1] -> ``translated`` (N, C, H, W) float32 in [0, 1]; with ``uint8`` both are
  (N, H, W, C) uint8. H and W may be any multiple of ``size_multiple`` (metadata).

Importing this module does not import torch.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import GankitError, UsageError
from ..latent import latents_for_seeds, prior_of, run_dir_of
from ..loading import load_model
from ..models import TRANSLATION, UNCONDITIONAL
from ..sampling import generate

FORMAT = "1"
#: float outputs in [0, 1] may differ from PyTorch's by at most this (about 1/4 of a
#: uint8 level); uint8 outputs by one level (a value on a rounding boundary)
TOLERANCE = 1e-3
MAX_CHECK_SEEDS = 1024
DIRECTIONS = ("a2b", "b2a")


@dataclass
class Source:
    """A trained generator as :func:`gankit.load_model` gives it, plus where it came from."""

    model: object
    config: object
    spec: object
    nets: dict
    checkpoint: object
    ema: bool
    run_name: str
    run_dir: Path | None = None

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def step(self) -> int:
        return int(self.checkpoint.step)


def load(target, ema: bool = True) -> Source:
    """The run's generator(s) on the CPU, in eval mode (EMA weights where the run has them)."""
    model, config, spec, nets, c = load_model(target, device="cpu", ema=ema)
    has_ema = ema and bool(c.shapes("s.ema."))
    run_dir = run_dir_of(c)
    name = run_dir.name if run_dir is not None else Path(c.path).stem
    return Source(model, config, spec, nets, c, has_ema, name, run_dir)


def prior(src: Source) -> str:
    """gaussian or uniform: the model's, or its config's where the model has a choice
    (vanilla's ``--set prior=``)."""
    return prior_of(src.model, src.config)


# -- the wrapper that is exported ----------------------------------------------------------


def wrapper(src: Source, uint8: bool = False, direction: str | None = None,
            labels: bool = False):
    """A ``torch.nn.Module`` mapping the exported input(s) to the exported output;
    ``labels``: a class-conditional generator's second input, the classes."""
    import torch

    model = src.model
    vector = src.spec.kind == "vector"

    class Generate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.nets = torch.nn.ModuleDict(src.nets)

        def forward(self, z):
            return self.finish(model.generate(dict(self.nets.items()), z).float())

        def finish(self, x):
            if vector:
                return x
            x = x.clamp(-1.0, 1.0)
            if uint8:
                return ((x + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
            return (x + 1.0) * 0.5

    class Translate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.nets = torch.nn.ModuleDict(src.nets)

        def forward(self, images):
            if uint8:
                x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
            else:
                x = images * 2.0 - 1.0
            y = model.translate(dict(self.nets.items()), x, direction).float().clamp(-1.0, 1.0)
            if uint8:
                return ((y + 1.0) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
            return (y + 1.0) * 0.5

    class GenerateClass(Generate):
        def forward(self, z, labels):
            return self.finish(model.generate(dict(self.nets.items()), z, labels).float())

    net = Translate() if direction else (GenerateClass() if labels else Generate())
    return net.eval()


# -- what the file says about itself ---------------------------------------------------------


@dataclass
class Layout:
    input: str
    input_shape: list
    input_type: str
    output: str
    output_shape: list
    output_type: str
    dynamic: dict = field(default_factory=dict)  # input axis -> name
    #: the class input of a class-conditional generator ("labels", (N,) int64), or ""
    labels: str = ""

    @property
    def inputs(self) -> list[str]:
        return [self.input] + ([self.labels] if self.labels else [])


def layout(src: Source, uint8: bool, direction: str | None, classes: bool = True) -> Layout:
    """The exported graph's inputs and outputs; ``classes``: a class-conditional run's
    graph takes the classes as a second input (False: the classes in turn)."""
    lay = _layout(src, uint8, direction)
    if classes and not direction and getattr(src.spec, "classes", ()):
        lay.labels = "labels"
    return lay


def _layout(src: Source, uint8: bool, direction: str | None) -> Layout:
    spec = src.spec
    c, s = spec.channels, spec.size
    if direction:
        shape = ["N", "H", "W", c] if uint8 else ["N", c, "H", "W"]
        dyn = {0: "N", 1: "H", 2: "W"} if uint8 else {0: "N", 2: "H", 3: "W"}
        t = "uint8" if uint8 else "float32"
        return Layout("images", shape, t, "translated", list(shape), t, dyn)
    z_dim = int(src.model.z_dim(src.config))
    if spec.kind == "vector":
        return Layout("z", ["N", z_dim], "float32", "samples", ["N", spec.dim], "float32",
                      {0: "N"})
    if uint8:
        return Layout("z", ["N", z_dim], "float32", "images", ["N", s, s, c], "uint8", {0: "N"})
    return Layout("z", ["N", z_dim], "float32", "images", ["N", c, s, s], "float32", {0: "N"})


def metadata(src: Source, fmt: str, uint8: bool, direction: str | None, lay: Layout,
             extra: dict | None = None) -> dict[str, str]:
    """String keys and values: ONNX ``metadata_props``, TorchScript ``gankit.json``."""
    spec = src.spec
    meta = {
        "gankit.export": FORMAT,
        "gankit.version": __version__,
        "gankit.format": fmt,
        "gankit.model": src.model.name,
        "gankit.model_version": str(src.model.version),
        "gankit.kind": src.kind,
        "gankit.run": src.run_name,
        "gankit.checkpoint": Path(src.checkpoint.path).name,
        "gankit.step": str(src.step),
        "gankit.ema": "true" if src.ema else "false",
        "gankit.config": json.dumps(asdict(src.config) if hasattr(src.config, "__dataclass_fields__")
                                    else {}, default=str),
        "gankit.data": json.dumps(spec.to_dict() if hasattr(spec, "to_dict") else asdict(spec),
                                  default=str),
        "gankit.data_kind": spec.kind,
        "gankit.image_size": str(spec.size),
        "gankit.channels": str(spec.channels),
        "gankit.input": lay.input,
        "gankit.input_shape": json.dumps(lay.input_shape),
        "gankit.input_type": lay.input_type,
        "gankit.output": lay.output,
        "gankit.output_shape": json.dumps(lay.output_shape),
        "gankit.output_type": lay.output_type,
        "gankit.exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if src.kind == UNCONDITIONAL:
        p = prior(src)
        meta.update({
            "gankit.z_dim": str(int(src.model.z_dim(src.config))),
            "gankit.prior": p,
            "gankit.latents": (
                "z of seed s: g = torch.Generator().manual_seed(s); "
                + ("torch.randn(1, z_dim, generator=g)" if p == "gaussian"
                   else "torch.rand(1, z_dim, generator=g) * 2 - 1")),
        })
        if spec.kind == "image":
            meta["gankit.range"] = "0..255" if uint8 else "0..1"
    else:
        meta.update({
            "gankit.direction": direction,
            "gankit.size_multiple": str(int(src.model.size_multiple(src.config, spec))),
            "gankit.range": "0..255" if uint8 else "0..1",
        })
    if lay.labels:
        meta.update({"gankit.classes": json.dumps(list(spec.classes)),
                     "gankit.labels_input": lay.labels, "gankit.labels_shape": '["N"]',
                     "gankit.labels_type": "int64"})
    meta.update(extra or {})
    return meta


# -- inputs of the check and what PyTorch makes of them ----------------------------------------


def check_inputs(src: Source, seeds, uint8: bool, direction: str | None, labels: bool = False):
    """The exported file's inputs for ``seeds`` (a list of tensors: one batch, plus for
    translation one non-square image, so the dynamic height and width are checked; with
    ``labels`` each batch is a ``(z, labels)`` pair, seed s of class s mod K)."""
    import torch

    if not direction:
        z = latents_for_seeds(src.model, src.config, seeds).float().contiguous()
        if labels:
            k = len(src.spec.classes)
            return [(z, torch.tensor([int(s) % k for s in seeds], dtype=torch.int64))]
        return [z]
    c, s = src.spec.channels, src.spec.size
    m = int(src.model.size_multiple(src.config, src.spec))
    imgs = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        imgs.append(torch.rand(1, c, s, s, generator=g))
    g = torch.Generator().manual_seed(int(seeds[0]))
    wide = torch.rand(1, c, s, s + m * max(1, 8 // m), generator=g)
    batches = [torch.cat(imgs), wide]
    if uint8:
        batches = [(b * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
                   for b in batches]
    return batches


def reference(src: Source, x, uint8: bool, direction: str | None):
    """What gankit itself makes of the input ``x`` (``gankit sample``'s generation path for
    unconditional models, ``model.translate`` for translation), in the export's layout."""
    import torch

    with torch.no_grad():
        if direction:
            if uint8:
                xin = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
            else:
                xin = x * 2.0 - 1.0
            y = src.model.translate(src.nets, xin, direction).float()
        elif isinstance(x, tuple):  # (z, labels) of a class-conditional run
            y = generate(src.model, src.nets, x[0], labels=x[1])
        else:
            y = generate(src.model, src.nets, x)
        if src.spec.kind == "vector" and not direction:
            return y
        y = y.clamp(-1, 1)
        if uint8:
            return ((y + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return (y + 1) * 0.5


def compare(got, want, uint8: bool, vector: bool, tolerance: float) -> tuple[float, float]:
    """(max abs difference, the tolerance it is held to)."""
    import numpy as np

    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise GankitError(f"export check failed: the exported file gives shape {list(got.shape)}, "
                          f"gankit gives {list(want.shape)}")
    if uint8:
        return float(np.abs(got.astype(np.int32) - want.astype(np.int32)).max()), 1.0
    if not np.isfinite(got).all():
        raise GankitError("export check failed: the exported file gives non-finite values")
    tol = tolerance * (max(1.0, float(np.abs(want).max())) if vector else 1.0)
    return float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()), tol


@dataclass
class Check:
    seeds: list
    max_diff: float
    tolerance: float
    runtime: str

    unit: str = ""

    def line(self) -> str:
        return (f"checked with {self.runtime} on {len(self.seeds)} seed(s): max abs difference "
                f"{self.max_diff:.2g}{self.unit} (tolerance {self.tolerance:g}{self.unit})")


def run_check(src: Source, seeds, uint8: bool, direction: str | None, run_file, runtime: str,
              tolerance: float, path, labels: bool = False) -> Check:
    """Run ``run_file(input) -> array`` on every check input (a ``(z, labels)`` pair
    with ``labels``) and compare with gankit's own output; a GankitError above the
    tolerance."""
    worst, tol = 0.0, tolerance
    vector = src.spec.kind == "vector" and not direction
    for x in check_inputs(src, seeds, uint8, direction, labels):
        got = run_file(x)
        want = reference(src, x, uint8, direction).numpy()
        diff, tol = compare(got, want, uint8, vector, tolerance)
        worst = max(worst, diff)
    if not math.isfinite(worst) or worst > tol:
        raise GankitError(
            f"export check failed for {path}: {runtime} differs from PyTorch by up to "
            f"{worst:.3g} (tolerance {tol:g}) on --check-seeds; the file was not written")
    return Check(list(seeds), worst, tol, runtime, " uint8 level(s)" if uint8 else "")


def output_paths(out, src: Source, directions, suffix: str) -> list[Path]:
    """One file per direction: OUT (default RUNNAME + suffix), with -a2b / -b2a inserted
    before the suffix when there are two."""
    base = Path(out) if out else Path(src.run_name + suffix)
    if str(out or "").endswith(("/", "\\")) or base.is_dir():
        base = base / (src.run_name + suffix)
    if len(directions) < 2:
        return [base]
    stem, ext = (base.name[:-len(suffix)], suffix) if base.name.endswith(suffix) else \
        (base.stem, base.suffix)
    return [base.with_name(f"{stem}-{d}{ext}") for d in directions]


def directions_for(src: Source, direction: str | None) -> list:
    """[None] for unconditional models; the translation directions asked for."""
    if src.kind == UNCONDITIONAL:
        if direction is not None:
            raise UsageError(f"--direction {direction}: '{src.model.name}' is an unconditional "
                             "model; --direction is for translation models such as cyclegan")
        return [None]
    if src.kind != TRANSLATION:
        raise GankitError(f"model '{src.model.name}' is a {src.kind} model; gankit export "
                          "knows unconditional and translation models")
    d = direction or "both"
    if d not in (*DIRECTIONS, "both"):
        raise UsageError(f"--direction {d}: choose a2b, b2a or both")
    own = [x for x in DIRECTIONS if x in tuple(getattr(src.model, "directions", DIRECTIONS))]
    if d != "both" and d not in own:
        raise UsageError(f"--direction {d}: '{src.model.name}' translates {' and '.join(own)} "
                         "only")
    return own if d == "both" else [d]


def require(module: str):
    """Import an optional dependency of the ``export`` extra, or one clear error."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GankitError(f"gankit export needs the '{module}' package: "
                          'pip install "gankit[export]"') from None
