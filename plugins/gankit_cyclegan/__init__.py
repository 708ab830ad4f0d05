"""CycleGAN (Zhu et al. 2017) as a gankit plugin: unpaired image-to-image translation.

Two generators (``G_AB``: domain A -> B, ``G_BA``: B -> A) and two PatchGAN
discriminators (``D_A`` tells real A from ``G_BA``'s output, ``D_B`` real B from
``G_AB``'s), trained with an adversarial loss (LSGAN by default), a cycle-consistency
loss and an identity loss. The defaults are those of the authors' reference
implementation (``pytorch-CycleGAN-and-pix2pix``); see docs/cyclegan.md.

This module is the light descriptor (no torch at import time); the networks live in
:mod:`gankit_cyclegan.nets`, the step's pieces (losses, image pool, random crop,
learning-rate schedule) in :mod:`gankit_cyclegan.train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gankit import nn as gnn
from gankit import (TRANSLATION, Flag, GankitError, GANModel, UsageError, console, hookimpl,
                    load_data)

__version__ = "1.0.0"

MIN_SIZE = 32  # the 70x70 PatchGAN needs at least 24 px; keep a round margin
#: the reference preprocessing: resize to 286, random crop 256
LOAD_RATIO = 286 / 256


def load_size_for(size: int) -> int:
    """The size images are resized to before the random crop: size * 286/256, rounded."""
    return int(size * LOAD_RATIO + 0.5)


def unet_downs(size: int) -> int:
    """Downsamplings of the U-Net at ``size``: down to 1x1 for powers of two (at most 8)."""
    k = 0
    while size % 2 == 0 and k < 8:
        size //= 2
        k += 1
    return k


@dataclass
class CycleGANConfig:
    generator: str = field(default="resnet", metadata={
        "help": "resnet (Johnson et al., the paper's) or unet (as in the TensorFlow tutorial)"})
    ngf: int = field(default=64, metadata={"help": "generator width (first layer's filters)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer's filters)"})
    n_blocks: int = field(default=0, metadata={
        "help": "residual blocks of the resnet generator; 0 = 9 at 256 px and above, 6 below"})
    d_layers: int = field(default=3, metadata={
        "help": "strided layers of the PatchGAN (3 = 70x70 receptive field)"})
    norm: str = field(default="instance", metadata={"help": "instance, batch or none"})
    dropout: bool = field(default=False, metadata={"help": "dropout in the generators"})
    lambda_cycle: float = field(default=10.0, metadata={"help": "weight of the cycle loss"})
    lambda_identity: float = field(default=0.5, metadata={
        "help": "identity loss weight, as a fraction of lambda_cycle (0 turns it off)"})
    pool_size: int = field(default=50, metadata={
        "help": "generated images kept for the discriminators (0 = no pool)"})
    preview: int = field(default=4, metadata={"help": "preview rows per domain"})


def _label(path: str) -> str:
    p = Path(path).resolve()
    return f"{p.parent.name}/{p.name}" if p.name in ("trainA", "trainB") else p.name


class CycleGAN(GANModel):
    name = "cyclegan"
    kind = TRANSLATION
    summary = "Zhu et al.: unpaired translation A<->B, ResNet/U-Net generators, PatchGAN"
    version = "1"
    Config = CycleGANConfig
    defaults = {"image_size": 128, "batch_size": 1, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "lsgan", "dataset": "sushi", "dataset_b": "sushi-dusk", "steps": 10000}
    generator_nets = ("G_AB", "G_BA")
    # reflection padding and instance norm run slower channels-last on oneDNN: NCHW
    # trains 1.13x faster (bf16) and 1.04x (fp32) at 64 px (docs/performance.md)
    channels_last = False
    #: net that translates each way
    directions = {"a2b": "G_AB", "b2a": "G_BA"}
    data_kinds = ("image",)
    train_flags = (
        Flag("--data-b", "data_b", str, "Second image folder (domain B)"),
        gnn.DECAY_FROM,
    )

    # -- configuration --------------------------------------------------------------
    def check(self, config, spec):
        if config.generator not in ("resnet", "unet"):
            raise GankitError(f"--set generator={config.generator}: choose resnet or unet")
        if config.norm not in ("instance", "batch", "none"):
            raise GankitError(f"--set norm={config.norm}: choose instance, batch or none")
        for k in ("ngf", "ndf", "d_layers"):
            if getattr(config, k) < 1:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be at least 1")
        for k in ("n_blocks", "pool_size", "preview"):
            if getattr(config, k) < 0:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be 0 or more")
        for k in ("lambda_cycle", "lambda_identity"):
            if getattr(config, k) < 0:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be 0 or more")
        size = spec.size
        if size < MIN_SIZE or size % 4:
            raise GankitError(f"--image-size {size}: cyclegan needs a multiple of 4, at least "
                              f"{MIN_SIZE} (e.g. 64, 128, 256)")
        if size // 2 ** config.d_layers < 3:
            raise GankitError(f"--set d_layers={config.d_layers}: too many for {size} px images "
                              f"(at most {max(1, (size // 3).bit_length() - 1)})")
        if config.generator == "unet" and unet_downs(size) < 5:
            raise GankitError(f"--image-size {size}: the unet generator needs a multiple of 32 "
                              "(e.g. 64, 128, 256); use --set generator=resnet for other sizes")

    def blocks(self, config, size: int) -> int:
        return config.n_blocks or (9 if size >= 256 else 6)

    def size_multiple(self, config, spec) -> int:
        """Inputs of any size work once padded to a multiple of this."""
        return 2 ** unet_downs(spec.size) if config.generator == "unet" else 4

    # -- construction -----------------------------------------------------------------
    def build(self, config, spec, loss=None):
        from .nets import build

        return build(config, spec, self.blocks(config, spec.size))

    def schedulers(self, config, optimizers, options):
        """``--decay-from N`` (default: half the steps): linear decay to zero."""
        return gnn.linear_decay(optimizers, options, default=int(options.steps or 1) // 2)

    # -- data -------------------------------------------------------------------------
    def load_data(self, plugins, options, progress):
        """Both domains, resized to the load size (the random crop happens per step)."""
        defaults = self.training_defaults()
        size = options.image_size or defaults["image_size"]
        options.image_size = size
        load_size = load_size_for(size)
        path_a, path_b = options.data, options.extra.get("data_b")
        test_a = test_b = None
        if path_a and not path_b:
            root = Path(path_a)
            if (root / "trainA").is_dir() and (root / "trainB").is_dir():
                path_a, path_b = str(root / "trainA"), str(root / "trainB")
                if (root / "testA").is_dir() and (root / "testB").is_dir():
                    test_a, test_b = str(root / "testA"), str(root / "testB")
            else:
                raise UsageError(
                    f"--data {path_a}: cyclegan needs two domains: --data A_FOLDER --data-b "
                    "B_FOLDER, or --data ROOT holding trainA/ and trainB/"
                )
        elif path_b and not path_a:
            raise UsageError("--data-b needs --data too (the domain A images)")

        def load(name, path, image_size, flag):
            if path and not Path(path).exists():
                raise GankitError(f"{flag} {path}: no such folder")
            data = load_data(plugins, self, options, path=path, name=name, progress=progress,
                             image_size=image_size, flag=flag)
            if data.spec.kind != "image":
                raise GankitError(f"{flag}: cyclegan needs image data; '{name}' is "
                                  f"{data.spec.kind} data")
            return data

        if path_a:
            name = options.dataset or "imagefolder"
            data_a = load(name, path_a, load_size, "--data")
            data_b = load(name, path_b, load_size, "--data-b")
            labels = (_label(path_a), _label(path_b))
        else:
            pairs = {defaults["dataset"]: defaults["dataset_b"],
                     defaults["dataset_b"]: defaults["dataset"]}
            name_a = options.dataset or defaults["dataset"]
            # a qualified --dataset PLUGIN:NAME pairs with the same plugin's other domain
            plugin, _, bare = name_a.rpartition(":")
            if plugin and bare in pairs:
                pairs[name_a] = f"{plugin}:{pairs[bare]}"
            if name_a not in pairs:
                raise UsageError(
                    f"--dataset {name_a}: cyclegan trains on two domains; give two image "
                    "folders with --data A --data-b B (or --data ROOT with trainA/ trainB/)"
                )
            data_a = load(name_a, None, load_size, "--dataset")
            data_b = load(pairs[name_a], None, load_size, "--dataset")
            labels = (name_a.rpartition(":")[2], pairs[name_a].rpartition(":")[2])
        preview = None
        if test_a:
            try:
                preview = (load("imagefolder", test_a, size, "testA"),
                           load("imagefolder", test_b, size, "testB"))
            except GankitError as exc:
                console.warn(f"previews use training images: {exc}")
        from .train import as_domains

        a, b = as_domains(data_a, data_b, size, load_size, labels)
        if preview is not None:  # the run's preview images travel with its data
            a.meta = {**a.meta, "preview": preview}
        return {"A": a, "B": b}

    # -- training -----------------------------------------------------------------------
    def setup(self, trainer):
        from .train import CycleState

        return CycleState(trainer)

    def train_step(self, t):
        return t.run_state.step(t)

    def preview(self, trainer):
        return trainer.run_state.preview(trainer)

    # -- inference ------------------------------------------------------------------------
    def translate(self, nets, x, direction: str = "a2b"):
        """Images in [-1, 1] (N, C, H, W) translated A->B (``a2b``) or B->A (``b2a``)."""
        if direction not in self.directions:
            raise UsageError(f"--direction {direction}: choose a2b or b2a")
        return nets[self.directions[direction]](x)


@hookimpl
def register_models(register):
    register(CycleGAN(), aliases=("cycle-gan",))
