"""The lightweight GAN (FastGAN: Liu et al., ICLR 2021, "Towards Faster and Stabilized
GAN Training for High-fidelity Few-shot Image Synthesis") as a gankit plugin.

Made for a few hundred pictures: skip-layer excitation in the generator, a
self-supervised discriminator whose small decoders reconstruct the real images it sees
(their L1 or MSE loss is part of D's loss), hinge loss, DiffAugment always on and an
EMA generator (the trainer's). Runs on a CPU as well as a GPU. docs/lightweight.md has
the details; the networks are in :mod:`gankit_lightweight.nets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, UnconditionalGAN, hookimpl

__version__ = "1.0.0"

MIN_SIZE, MAX_SIZE = 64, 1024
SIZES = tuple(2 ** k for k in range(6, 11))  # 64 .. 1024
REC_LOSSES = ("mse", "l1")


@dataclass
class LightweightConfig:
    z_dim: int = field(default=256, metadata={"help": "latent size (the paper: 256)"})
    ngf: int = field(default=16, metadata={
        "help": "generator width: ngf x 16 channels at 4 px ... ngf x 2 at 64 px "
                "(the paper: 64; 16 trains on a CPU)"})
    ndf: int = field(default=16, metadata={
        "help": "discriminator width: ndf x 8 channels at 8 px ... ndf at 64 px "
                "(the paper: 64; 16 trains on a CPU)"})
    rec_loss: str = field(default="mse", metadata={
        "help": "the decoders' reconstruction loss: mse or l1 (the paper: LPIPS, whose "
                "weights gankit does not download)"})
    rec_weight: float = field(default=1.0, metadata={
        "help": "weight of the reconstruction loss in D's loss"})
    rec_size: int = field(default=128, metadata={
        "help": "side of the reconstructed images (at most the image size)"})
    spectral_norm: bool = field(default=True, metadata={
        "help": "spectral normalisation on every convolution (as the paper's code)"})
    noise: bool = field(default=True, metadata={
        "help": "per-pixel noise in the generator's double blocks, while training only"})


class Lightweight(UnconditionalGAN):
    name = "lightweight"
    summary = ("FastGAN (Liu et al. 2021): skip-layer excitation, a self-supervised "
               "discriminator; for 100-1,000 pictures")
    version = "1"
    Config = LightweightConfig
    defaults = {"image_size": 64, "batch_size": 16, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "hinge", "dataset": "sushi", "steps": 5000,
                "augment": "color,translation,cutout"}
    data_kinds = ("image",)
    #: --conditional: a class embedding beside the noise, projection on D's two paths
    can_be_conditional = True

    def check(self, config, spec):
        if spec.size not in SIZES:
            raise GankitError(f"--image-size {spec.size}: lightweight builds square images of "
                              f"{', '.join(map(str, SIZES))} pixels; pick one of them")
        for k in ("z_dim", "ngf", "ndf"):
            if getattr(config, k) < 1:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be at least 1")
        if config.rec_loss not in REC_LOSSES:
            raise GankitError(f"--set rec_loss={config.rec_loss}: choose mse or l1")
        if not config.rec_weight >= 0:
            raise GankitError(f"--set rec_weight={config.rec_weight}: must be 0 or more")
        if config.rec_size not in (16, 32, 64, 128, 256):
            raise GankitError(f"--set rec_size={config.rec_size}: choose 16, 32, 64, 128 "
                              "or 256")

    def load_data(self, plugins, options, progress=None):
        """Without --image-size: the data set's own size when the networks can be built
        for it, else the largest size they can build below it (sushi's 96 px -> 64)."""
        pick_size(self, plugins, options, SIZES)
        return super().load_data(plugins, options, progress)

    def build(self, config, spec, loss=None):
        if loss is not None and not loss.batchnorm_ok:
            raise GankitError(f"--loss {loss.name}: the lightweight discriminator uses batch "
                              "norm, which this loss forbids; use hinge (the default), bce or "
                              "lsgan")
        from .nets import build

        return build(config, spec)

    # the built-in step of UnconditionalGAN, with the decoders' reconstruction loss added
    # to D's loss through its two hooks
    def d_real_kwargs(self, t) -> dict:
        """D reconstructs the real images it sees: the whole image and one quadrant, drawn
        from the global RNG (checkpointed) before the generated batch is made."""
        import torch

        return {"reconstruct": True, "part": int(torch.randint(4, (1,)))}

    def d_extra_loss(self, t, real_out, real):
        """The decoders' reconstruction loss (L1 or MSE) on the augmented real images,
        weighted by ``rec_weight`` in D's loss and reported as ``loss_rec``."""
        from .nets import reconstruction_loss

        loss_rec = reconstruction_loss(real_out, t.config.rec_loss)
        return t.config.rec_weight * loss_rec, {"loss_rec": loss_rec}


def pick_size(model, plugins, options, sizes) -> None:
    """Without --image-size, set ``options.image_size`` to the data set's own size when
    it is one of ``sizes``, else the largest of ``sizes`` below it (else the smallest)."""
    if options.image_size is None:
        own = (plugins.datasets().get(model.dataset_for(options)).default_size
               or model.defaults["image_size"])
        options.image_size = max([s for s in sizes if s <= own] or [min(sizes)])


@hookimpl
def register_models(register):
    register(Lightweight(), aliases=("fastgan",))
