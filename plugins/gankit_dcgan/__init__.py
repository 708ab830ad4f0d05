"""DCGAN (Radford et al. 2015) as a gankit plugin."""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, UnconditionalGAN, hookimpl
from gankit import nn as gnn

__version__ = "1.0.0"

#: the mode-seeking weight of a --conditional run unless --set mode_seeking=W: on ten
#: kinds of drawn digits (32 px, 1,500 steps) it took recall from 0 to 0.37 and SWD from
#: 35.8 to 20.4 (docs/conditional.md)
CONDITIONAL_MODE_SEEKING = 0.03


@dataclass
class DCGANConfig:
    z_dim: int = field(default=100, metadata={"help": "latent size"})
    ngf: int = field(default=64, metadata={"help": "generator width (channels of the last layer)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer)"})
    max_mult: int = field(default=8, metadata={"help": "cap on the width multiplier"})
    bottom: int = field(default=0, metadata={"help": "first feature map width; 0 = from the size"})
    mbstd: int = field(default=0, metadata={
        "help": "minibatch standard deviation before the discriminator's last layer, over "
                "groups of this many samples (0: off)"})
    mode_seeking: float | None = field(default=None, metadata={
        "help": "weight of the mode-seeking term in G's loss (Mao et al. 2019: G loses "
                "when different noise gives the same picture); none (the default): "
                f"{CONDITIONAL_MODE_SEEKING} on a --conditional run, where it keeps each "
                "class from narrowing to one picture, else off; 0: off"})
    d_norm: str = field(default="auto", metadata={
        "help": "discriminator norm: auto (batch, or layer when the loss forbids batch norm), "
                "batch, layer, instance, none"})


class DCGAN(UnconditionalGAN):
    name = "dcgan"
    summary = "Radford et al.: transposed-conv generator, strided-conv discriminator"
    version = "1"
    Config = DCGANConfig
    defaults = {"image_size": 64, "batch_size": 64, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "bce", "dataset": "sushi", "steps": 2000}

    data_kinds = ("image",)
    #: --conditional: a class embedding beside the noise, a projection discriminator
    can_be_conditional = True

    def check(self, config, spec):
        gnn.check_conv_size(self.name, spec.size, config.bottom)
        if config.d_norm != "auto" and config.d_norm not in gnn.NORMS:
            raise GankitError(f"--set d_norm={config.d_norm}: choose auto, batch, layer, "
                              "instance or none")
        gnn.check_positive(config, "z_dim", "ngf", "ndf", "max_mult")
        gnn.check_range(config, 0, 4096, "mbstd")
        gnn.check_range(config, 0, 100, "mode_seeking")  # None: automatic

    def build(self, config, spec, loss=None):
        norm = config.d_norm
        if norm == "auto":
            norm = "batch" if loss is None or loss.batchnorm_ok else "layer"
        if spec.num_classes:
            from .nets import ConditionalGenerator, ProjectionDiscriminator

            return {
                "G": ConditionalGenerator(config.z_dim, spec.num_classes, spec.channels,
                                          spec.size, config.ngf, config.max_mult, config.bottom),
                "D": ProjectionDiscriminator(spec.num_classes, spec.channels, spec.size,
                                             config.ndf, config.max_mult, config.bottom, norm,
                                             config.mbstd),
            }
        return {
            "G": gnn.dcgan_generator(config.z_dim, spec.channels, spec.size, config.ngf,
                                     config.max_mult, config.bottom),
            "D": gnn.dcgan_discriminator(spec.channels, spec.size, config.ndf, config.max_mult,
                                         config.bottom, norm, mbstd=config.mbstd),
        }

    def g_extra_loss(self, t, fake, z, labels):
        """The mode-seeking term (:func:`gankit.nn.mode_seeking_loss`, within each class
        on a conditional run) weighted by ``mode_seeking``, reported as ``loss_ms``."""
        weight = t.config.mode_seeking
        if weight is None:
            weight = CONDITIONAL_MODE_SEEKING if labels is not None else 0.0
        return gnn.mode_seeking_extra(weight, fake, z, labels)


@hookimpl
def register_models(register):
    register(DCGAN(), aliases=("dc",))
