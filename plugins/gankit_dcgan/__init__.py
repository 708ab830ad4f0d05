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
G_COND = ("concat", "cbn")
CLASS_HEADS = ("pooled", "flat")
#: the auxiliary classifier's weight in a new run (--set class_loss=W), on the whole last
#: feature map of D (class_head "flat"): on the ten-kind digits every class's --class K
#: samples were >= 99.5 % right on three seeds of three, against 88.5-91.5 % for the
#: weakest class with the averaged features and 87.5 % without a classifier
#: (docs/conditional.md). The Config's own defaults stay 0 and "pooled", what a run made
#: before these options means on --resume
CONDITIONAL_CLASS_LOSS = 0.3
CONDITIONAL_CLASS_HEAD = "flat"


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
                "class from narrowing to one picture (0.1 with about 50 pictures a class), "
                "else off; 0: off"})
    g_cond: str = field(default="concat", metadata={
        "help": "how a --conditional generator is told the class: concat (an embedding "
                "beside the noise) or cbn (conditional batch norm: a scale and shift per "
                "class after every batch norm)"})
    class_loss: float = field(default=0.0, metadata={
        "help": "on a --conditional run, the weight of an auxiliary class classifier in "
                "D (trained on the real pictures' classes) whose cross-entropy on the "
                "generated pictures G also minimises (AC-GAN, Odena et al. 2017, beside the "
                f"projection); {CONDITIONAL_CLASS_LOSS} for a new run, 0: off"})
    class_head: str = field(default="pooled", metadata={
        "help": "what the class_loss classifier sees: pooled (D's last features averaged "
                f"over the map) or flat (the whole last feature map); {CONDITIONAL_CLASS_HEAD} "
                "for a new run"})
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

    def default_config(self):
        return DCGANConfig(class_loss=CONDITIONAL_CLASS_LOSS, class_head=CONDITIONAL_CLASS_HEAD)

    def check(self, config, spec):
        gnn.check_conv_size(self.name, spec.size, config.bottom)
        if config.d_norm != "auto" and config.d_norm not in gnn.NORMS:
            raise GankitError(f"--set d_norm={config.d_norm}: choose auto, batch, layer, "
                              "instance or none")
        if config.g_cond not in G_COND:
            raise GankitError(f"--set g_cond={config.g_cond}: choose " + " or ".join(G_COND))
        gnn.check_positive(config, "z_dim", "ngf", "ndf", "max_mult")
        gnn.check_range(config, 0, 4096, "mbstd")
        gnn.check_range(config, 0, 100, "mode_seeking")  # None: automatic
        gnn.check_range(config, 0, 100, "class_loss")
        if config.class_head not in CLASS_HEADS:
            raise GankitError(f"--set class_head={config.class_head}: choose "
                              + " or ".join(CLASS_HEADS))

    def build(self, config, spec, loss=None):
        norm = config.d_norm
        if norm == "auto":
            norm = "batch" if loss is None or loss.batchnorm_ok else "layer"
        if spec.num_classes:
            from .nets import CBNGenerator, ConditionalGenerator, ProjectionDiscriminator

            generator = CBNGenerator if config.g_cond == "cbn" else ConditionalGenerator
            return {
                "G": generator(config.z_dim, spec.num_classes, spec.channels,
                                          spec.size, config.ngf, config.max_mult, config.bottom),
                "D": ProjectionDiscriminator(spec.num_classes, spec.channels, spec.size,
                                             config.ndf, config.max_mult, config.bottom, norm,
                                             config.mbstd,
                                             classifier=config.class_head if config.class_loss > 0 else ""),
            }
        return {
            "G": gnn.dcgan_generator(config.z_dim, spec.channels, spec.size, config.ngf,
                                     config.max_mult, config.bottom),
            "D": gnn.dcgan_discriminator(spec.channels, spec.size, config.ndf, config.max_mult,
                                         config.bottom, norm, mbstd=config.mbstd),
        }

    def d_real_kwargs(self, t):
        return {"classify": True} if _classifies(t) else {}

    def d_extra_loss(self, t, real_out, real):
        """``class_loss`` on a conditional run: the classifier's cross-entropy on the real
        batch, reported as ``loss_cls``."""
        if not isinstance(real_out, dict):
            return None, {}
        return t.config.class_loss * real_out["class_ce"], {"loss_cls": real_out["class_ce"]}

    def d_fake_kwargs(self, t):
        return {"classify": True} if _classifies(t) else {}

    def g_extra_loss(self, t, fake, z, labels, fake_out=None):
        """The mode-seeking term (:func:`gankit.nn.mode_seeking_loss`, within each class
        on a conditional run) weighted by ``mode_seeking``, reported as ``loss_ms``; with
        ``class_loss``, the classifier's cross-entropy on the generated batch (from the
        same D call as G's adversarial loss), reported as ``loss_cls_g``."""
        weight = t.config.mode_seeking
        if weight is None:
            weight = CONDITIONAL_MODE_SEEKING if labels is not None else 0.0
        term, metrics = gnn.mode_seeking_extra(weight, fake, z, labels)
        if isinstance(fake_out, dict):
            ce = fake_out["class_ce"]
            term = t.config.class_loss * ce + (0 if term is None else term)
            metrics = {**metrics, "loss_cls_g": ce}
        return term, metrics


def _classifies(t) -> bool:
    return t.config.class_loss > 0 and t.spec.num_classes > 0


@hookimpl
def register_models(register):
    register(DCGAN(), aliases=("dc",))
