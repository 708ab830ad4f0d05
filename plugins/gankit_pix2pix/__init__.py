"""pix2pix (Isola et al. 2017) as a gankit plugin: paired image-to-image translation.

One U-Net generator ``G`` (input -> target, skip connections, dropout as the noise) and
one 70x70 PatchGAN ``D`` that judges the input and an output concatenated, trained on
the adversarial loss plus ``lambda_l1`` times the L1 distance to the true target. The
networks are CycleGAN's (:mod:`gankit_cyclegan.nets`); the defaults are those of the
authors' reference implementation; see docs/pix2pix.md.

This module is the light descriptor (no torch at import time); the data layouts live in
:mod:`gankit_pix2pix.data`, the step in :mod:`gankit_pix2pix.train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gankit import nn as gnn
from gankit import (TRANSLATION, Flag, GankitError, GANModel, UsageError, hookimpl,
                    load_data)
from gankit_cyclegan import MIN_SIZE, load_size_for, unet_downs

__version__ = "1.0.0"

#: ``--direction`` at training time: which side of each pair is the input
DIRECTIONS = {"atob": "AtoB", "btoa": "BtoA", "a2b": "AtoB", "b2a": "BtoA"}
#: ``--pairs``: how a plain folder of pictures becomes pairs
PAIRS = ("edges",)
#: the built-in paired demo: the sushi scenes by day and the same scenes at dusk
DEMO = ("sushi", "sushi-dusk")


@dataclass
class Pix2PixConfig:
    ngf: int = field(default=64, metadata={"help": "generator width (first layer's filters)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer's filters)"})
    d_layers: int = field(default=3, metadata={
        "help": "strided layers of the PatchGAN (3 = 70x70 receptive field)"})
    norm: str = field(default="instance", metadata={"help": "instance, batch or none"})
    dropout: bool = field(default=True, metadata={
        "help": "dropout in the U-Net's inner up layers: the generator's noise (training only)"})
    lambda_l1: float = field(default=100.0, metadata={"help": "weight of the L1 term"})
    preview: int = field(default=4, metadata={"help": "preview rows"})


def direction_of(options) -> str:
    raw = options.extra.get("direction")
    if raw is None:
        return "AtoB"
    d = DIRECTIONS.get(str(raw).strip().lower())
    if d is None:
        raise UsageError(f"--direction {raw}: choose AtoB (input A, target B) or BtoA")
    return d


class Pix2Pix(GANModel):
    name = "pix2pix"
    kind = TRANSLATION
    summary = "Isola et al.: paired translation, U-Net generator + L1, PatchGAN on the pair"
    version = "1"
    Config = Pix2PixConfig
    defaults = {"image_size": 128, "batch_size": 1, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "bce", "dataset": "sushi", "steps": 10000}
    generator_nets = ("G",)
    # instance norm and dropout: NCHW as CycleGAN (docs/performance.md)
    channels_last = False
    #: one generator: from the run's input side to its target side
    directions = {"a2b": "G"}
    data_kinds = ("image",)
    train_flags = (
        Flag("--data-b", "data_b", str, "Second image folder (domain B)"),
        Flag("--pairs", "pairs", str,
             "Derive each pair from one picture: edges (its edge map is the input)"),
        Flag("--direction", "direction", str,
             "Which side of each pair is the input: AtoB (default) or BtoA"),
        gnn.DECAY_FROM,
    )

    # -- configuration --------------------------------------------------------------
    def check(self, config, spec):
        if config.norm not in ("instance", "batch", "none"):
            raise GankitError(f"--set norm={config.norm}: choose instance, batch or none")
        for k in ("ngf", "ndf", "d_layers"):
            if getattr(config, k) < 1:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be at least 1")
        if config.preview < 0:
            raise GankitError(f"--set preview={config.preview}: must be 0 or more")
        if not config.lambda_l1 >= 0:
            raise GankitError(f"--set lambda_l1={config.lambda_l1}: must be 0 or more")
        size = spec.size
        if size < MIN_SIZE or unet_downs(size) < 5:
            raise GankitError(f"--image-size {size}: pix2pix's U-Net needs a multiple of 32 "
                              "(e.g. 64, 128, 256)")
        if size // 2 ** config.d_layers < 3:
            raise GankitError(f"--set d_layers={config.d_layers}: too many for {size} px images "
                              f"(at most {max(1, (size // 3).bit_length() - 1)})")

    def size_multiple(self, config, spec) -> int:
        return 2 ** unet_downs(spec.size)

    # -- construction -----------------------------------------------------------------
    def build(self, config, spec, loss=None):
        from .train import build

        return build(config, spec)

    def schedulers(self, config, optimizers, options):
        """``--decay-from N`` (default: half the steps): linear decay to zero."""
        return gnn.linear_decay(optimizers, options, default=int(options.steps or 1) // 2)

    # -- data -------------------------------------------------------------------------
    def load_data(self, plugins, options, progress=None):
        """The pairs as one stacked image each (input channels, then target channels), at
        the load size; the held-out pairs in ``meta["pairs"]`` (docs/pix2pix.md)."""
        from . import data as paired

        defaults = self.training_defaults()
        size = options.image_size or defaults["image_size"]
        options.image_size = size
        load_size = load_size_for(size)
        direction = direction_of(options)
        if options.augment not in (None, "none"):
            raise UsageError(f"--augment {options.augment}: pix2pix's discriminator sees the "
                             "input and output as one pair; DiffAugment is not applied "
                             "(leave --augment out)")
        if options.flip is None:
            # a flip flips both halves of the stacked pair alike (the reference flips);
            # the text-and-digits look of gankit's flip check is not for stacked pairs
            options.flip = True
        mode = options.extra.get("pairs")
        if mode is not None and mode not in PAIRS:
            raise UsageError(f"--pairs {mode}: choose {', '.join(PAIRS)}")
        path_a, path_b = options.data, options.extra.get("data_b")
        held = None  # (A, B, names) from a val/ or test/ folder
        label = None
        if mode == "edges":
            if path_b:
                raise UsageError("--pairs edges makes the inputs from --data's pictures; "
                                 "leave out --data-b")
            name = options.dataset or ("imagefolder" if path_a else DEMO[0])
            if path_a and not Path(path_a).exists():
                raise GankitError(f"--data {path_a}: no such folder")
            pictures = load_data(plugins, self, options, path=path_a, name=name,
                                 progress=progress, image_size=load_size, flag="--data")
            if pictures.spec.kind != "image":
                raise GankitError(f"--dataset {name}: pix2pix needs image data")
            b = pictures.samples.contiguous()
            a = paired.edge_map(b)
            names = list(pictures.names) or [str(i) for i in range(len(b))]
            label = ("edges", _short(path_a) if path_a else name.rpartition(":")[2])
        elif path_a and path_b:
            a, b, names = paired.read_two_folders(Path(path_a), Path(path_b), load_size,
                                                  progress=progress, warn=_warn())
            label = (_short(path_a), _short(path_b))
        elif path_b:
            raise UsageError("--data-b needs --data too (the A side of each pair)")
        elif path_a:
            root = Path(path_a)
            if not root.is_dir():
                raise GankitError(f"--data {path_a}: no such folder")
            paired.refuse_unpaired(root)
            train, held_dir = paired.aligned_folders(root)
            a, b, names = paired.read_aligned(train, "--data", load_size, warn=_warn(),
                                              progress=progress)
            if held_dir is not None:
                held = paired.read_aligned(held_dir, "--data", load_size, warn=_warn())
            label = (f"{_short(path_a)} A", f"{_short(path_a)} B")
        else:
            name = options.dataset or DEMO[0]
            bare = name.rpartition(":")[2]
            if bare not in DEMO:
                raise UsageError(
                    f"--dataset {name}: pix2pix trains on pairs; give --data ROOT (A|B images "
                    "side by side), --data A --data-b B (files paired by name), or --pairs "
                    f"edges to pair each picture of --dataset {name} with its edge map")
            plugin = name.rpartition(":")[0]
            other = DEMO[1 - DEMO.index(bare)]
            other = f"{plugin}:{other}" if plugin else other
            da = load_data(plugins, self, options, path=None, name=name, progress=progress,
                           image_size=load_size, flag="--dataset")
            db = load_data(plugins, self, options, path=None, name=other, progress=progress,
                           image_size=load_size, flag="--dataset")
            a, b = da.samples.contiguous(), db.samples.contiguous()
            names = list(da.names)
            label = (bare, other.rpartition(":")[2])
        if a.shape[1] != b.shape[1]:
            raise GankitError("the A and B sides have different channels (grayscale and "
                              "colour); give both sides the same kind of images")
        from .train import as_pairs

        return as_pairs(a, b, names, held, size, direction, label)

    # -- training -----------------------------------------------------------------------
    def setup(self, trainer):
        from .train import PairState

        return PairState(trainer)

    def train_step(self, t):
        return t.run_state.step(t)

    def preview(self, trainer):
        return trainer.run_state.preview(trainer)

    # -- inference ------------------------------------------------------------------------
    def translate(self, nets, x, direction: str = "a2b"):
        """Images in [-1, 1] (N, C, H, W) from the run's input side to its target side
        (``a2b``; a pix2pix run translates one way: train a BtoA run for the other)."""
        if direction != "a2b":
            raise UsageError(f"--direction {direction}: a pix2pix run translates one way "
                             "(a2b, from its input side to its target side); train with "
                             "--direction BtoA for the other")
        return nets["G"](x)


def _short(path) -> str:
    """A folder's name for the run's labels (an aligned root's, for ROOT/train)."""
    p = Path(path).resolve()
    return p.parent.name if p.name == "train" else p.name


def _warn():
    from gankit import console

    return console.warn


@hookimpl
def register_models(register):
    register(Pix2Pix(), aliases=("pix2pix-gan",))
