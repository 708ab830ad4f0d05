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

    def train_step(self, t) -> dict:
        """One D step (the loss on augmented real and generated images, plus the
        decoders' reconstruction loss on the augmented real ones), then one G step."""
        import torch

        from gankit import call_g_loss

        from .nets import reconstruction_loss

        loss, config = t.loss, t.config
        G = t.nets["G"]
        n_critic = max(1, int(loss.n_critic))
        cond = t.spec.num_classes > 0  # --conditional: fakes of the real batch's classes
        kw, y = {}, None
        fake = None
        t.requires_grad("D", True)
        for _ in range(n_critic):
            if cond:
                real, y = t.next_labelled_batch()
                kw = {"y": y}
            else:
                real = t.next_batch()
            z = t.latent(real.shape[0])
            # the quadrant the part decoder reconstructs, from the global RNG (checkpointed)
            part = int(torch.randint(4, (1,)))
            with t.autocast():
                if n_critic == 1:
                    fake = G(z, y) if cond else G(z)
                    fake_in = fake.detach()
                else:
                    with torch.no_grad():
                        fake_in = G(z, y) if cond else G(z)
                out = t.discriminate(real, real=True, reconstruct=True, part=part, **kw)
                loss_rec = reconstruction_loss(out, config.rec_loss)
                loss_d = loss.d_loss(out["logits"], t.discriminate(fake_in, **kw))
            total = loss_d + config.rec_weight * loss_rec
            if loss.gp_weight:
                D = t.nets["D"]
                critic = (lambda x, D=D, y=y: D(x, y=y)) if cond else D
                total = total + loss.gp_weight * loss.penalty(critic, real, fake_in.float())
            t.backward_step("D", total)
        t.requires_grad("D", False)
        with t.autocast():
            if fake is None:
                fake = G(t.latent(real.shape[0]), y) if cond else G(t.latent(t.batch_size))
            real_scores = None
            if getattr(loss, "wants_real_scores", False):
                with torch.no_grad():
                    real_scores = t.discriminate(real, **kw)
            loss_g = call_g_loss(loss, t.discriminate(fake, **kw), real_scores)
        t.backward_step("G", loss_g)
        t.requires_grad("D", True)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "loss_rec": loss_rec.detach()}


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
