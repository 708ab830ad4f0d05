"""The vanilla GAN (Goodfellow et al. 2014) with multilayer perceptrons, as a gankit plugin.

Defaults follow the textbook chapter this toolkit's tutorials use (Raschka et al.,
"Machine Learning with PyTorch and Scikit-Learn", ch. 17): latent z of 20 dimensions
drawn from U[-1, 1], one hidden layer of 100 units with LeakyReLU(0.01) in both
networks, a tanh output for images, dropout 0.5 after each hidden layer of the
discriminator, non-saturating BCE loss and Adam with PyTorch's defaults (lr 1e-3,
betas (0.9, 0.999)). The discriminator returns a logit: the loss applies the sigmoid.

Deviations, on purpose:

- every linear layer has a bias (the textbook's first discriminator layer has none; on
  2-D data that restricts the first layer to lines through the origin);
- on vector data (``ring8``, ``grid25``) the networks default to the mode-collapse
  papers' kind of MLP instead: four hidden layers of 128 and no dropout (Metz et al.
  use 128-unit layers, Gulrajani et al. three layers of 512). The textbook's single
  layer of 100 with dropout cannot place points within 0.06 of a mode (3 standard
  deviations on ``ring8``). With three layers our WGAN-GP runs on ``ring8`` stayed
  under 90% high-quality samples in a few CPU minutes (at lr 1e-3 one seed never settled); with
  four, both seeds we tried passed 90% (``--lr 5e-4 --steps 16000 --decay-from 8000``).
  ``--set hidden=100 --set dropout=0.5`` restores the textbook's;
- on vector data the generator's output is linear, because those points lie outside
  [-1, 1] (``--set output=tanh`` restores the squashing);
- the default data set is ``ring8``, which needs no download and trains in seconds (the
  default 3000 steps with the textbook's optimizer do not find the modes; see the README
  for the bce-vs-wgan-gp comparison); the textbook's MNIST is ``--dataset mnist --data ROOT``.

Works on images of any shape (flattened; samples come back as C x H x W) and on vectors.
Width and depth: ``--set hidden=256,256`` (both networks) and ``--set d_hidden=...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import nn as gnn
from gankit import GankitError, UnconditionalGAN, hookimpl

__version__ = "1.0.0"

PRIORS = ("uniform", "gaussian")
OUTPUTS = ("auto", "tanh", "linear")
IMAGE_HIDDEN = (100,)  # the textbook's
VECTOR_HIDDEN = (128, 128, 128, 128)
IMAGE_DROPOUT = 0.5  # the textbook's
VECTOR_DROPOUT = 0.0


@dataclass
class VanillaConfig:
    z_dim: int = field(default=20, metadata={"help": "latent size"})
    prior: str = field(default="uniform", metadata={
        "help": "latent distribution: uniform (U[-1, 1], the textbook's) or gaussian"})
    hidden: tuple[int, ...] = field(default=(), metadata={
        "help": "hidden layer widths, e.g. 256,256 (generator, and discriminator unless "
                "d_hidden); empty = auto: 100 for images (the textbook's), 128,128,128,128 "
                "for vectors"})
    d_hidden: tuple[int, ...] = field(default=(), metadata={
        "help": "discriminator hidden widths; empty = the same as hidden"})
    slope: float = field(default=0.01, metadata={"help": "LeakyReLU negative slope"})
    dropout: float | None = field(default=None, metadata={
        "help": "dropout after each discriminator hidden layer (0 = none); "
                "none = auto: 0.5 for images (the textbook's), 0 for vectors"})
    output: str = field(default="auto", metadata={
        "help": "generator output: auto (tanh for images, linear for vectors), tanh, linear"})


class Vanilla(UnconditionalGAN):
    name = "vanilla"
    summary = "Goodfellow et al.: MLP generator and discriminator on flattened images or 2-D points"
    version = "1"
    Config = VanillaConfig
    defaults = {"image_size": 28, "batch_size": 64, "lr": 1e-3, "betas": (0.9, 0.999),
                "loss": "bce", "dataset": "ring8", "steps": 3000}

    def z_dim(self, config) -> int:
        return int(config.z_dim)

    def latent(self, config, n: int, device="cpu", generator=None):
        import torch

        shape = (n, int(config.z_dim))
        if config.prior == "uniform":
            return torch.rand(shape, device=device, generator=generator) * 2 - 1
        return torch.randn(shape, device=device, generator=generator)

    data_kinds = ("image", "vector")
    train_flags = (gnn.DECAY_FROM,)

    def check(self, config, spec):
        if spec.kind == "vector" and spec.dim < 1:
            raise GankitError(f"data set '{spec.name}' has vectors of size {spec.dim}")
        if config.prior not in PRIORS:
            raise GankitError(f"--set prior={config.prior}: choose uniform or gaussian")
        if config.output not in OUTPUTS:
            raise GankitError(f"--set output={config.output}: choose auto, tanh or linear")
        if config.z_dim < 1:
            raise GankitError(f"--set z_dim={config.z_dim}: must be at least 1")
        for key in ("hidden", "d_hidden"):
            widths = tuple(getattr(config, key))
            if any(int(w) < 1 for w in widths):
                raise GankitError(f"--set {key}={','.join(map(str, widths))}: "
                                  "every width must be at least 1")
        if config.dropout is not None and not 0 <= config.dropout < 1:
            raise GankitError(f"--set dropout={config.dropout}: must be in [0, 1)")

    def build(self, config, spec, loss=None):
        from .nets import build

        return build(config, spec, *resolved(config, spec))

    def schedulers(self, config, optimizers, options):
        """``--decay-from N``: the learning rates fall linearly to zero from step N to
        the last step (as in CycleGAN); without it they stay constant."""
        return gnn.linear_decay(optimizers, options)


def resolved(config, spec) -> tuple[tuple[int, ...], tuple[int, ...], float]:
    """(generator widths, discriminator widths, dropout) with the auto defaults filled in."""
    image = spec.kind == "image"
    hidden = tuple(config.hidden) or (IMAGE_HIDDEN if image else VECTOR_HIDDEN)
    d_hidden = tuple(config.d_hidden) or hidden
    dropout = config.dropout
    if dropout is None:
        dropout = IMAGE_DROPOUT if image else VECTOR_DROPOUT
    return hidden, d_hidden, float(dropout)


@hookimpl
def register_models(register):
    register(Vanilla(), aliases=("gan",))
