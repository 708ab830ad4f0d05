"""WGAN-GP (Gulrajani et al. 2017) as a gankit plugin: the ``wgan-gp`` loss and model.

The loss works with any unconditional model (``gankit train vanilla --loss wgan-gp``):
the critic minimises D(G(z)) - D(x) + 10 * (||grad D(x_hat)|| - 1)^2 on random
interpolates x_hat between real and generated samples, with 5 critic updates per
generator update and Adam(lr 1e-4, betas (0, 0.9)) unless set otherwise. It declares
``batchnorm_ok = False``: the penalty is per sample, so models build their critic
without batch norm.

The model is DCGAN-shaped: a transposed-conv generator with batch norm and a strided-conv
critic with layer norm (``--set d_norm=instance`` or ``none``), for any image size
b * 2^k (3 <= b <= 7, at least 28).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, Loss, UnconditionalGAN, hookimpl
from gankit import nn as gnn

__version__ = "1.0.0"

NORMS = ("layer", "instance", "none")


class WassersteinGP(Loss):
    name = "wgan-gp"
    summary = ("Wasserstein critic with gradient penalty (lambda 10), 5 critic steps, "
               "Adam 1e-4 (0, 0.9)")
    n_critic = 5
    gp_weight = 10.0
    batchnorm_ok = False
    optimizer = {"lr": 1e-4, "betas": (0.0, 0.9)}

    def d_loss(self, real_scores, fake_scores):
        return fake_scores.float().mean() - real_scores.float().mean()

    def g_loss(self, fake_scores):
        return -fake_scores.float().mean()

    def penalty(self, critic, real, fake):
        """mean over the batch of (||grad critic(x_hat)||_2 - 1)^2.

        x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample, drawn from
        the global torch RNG (saved in checkpoints, so a resumed run is exact).
        """
        import torch

        real = real.detach().float()
        fake = fake.detach().float()
        eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), device=real.device)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = critic(x_hat)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
        norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
        return ((norm - 1) ** 2).mean()


@dataclass
class WGANGPConfig:
    z_dim: int = field(default=100, metadata={"help": "latent size"})
    ngf: int = field(default=64, metadata={"help": "generator width (channels of the last layer)"})
    ndf: int = field(default=64, metadata={"help": "critic width (first layer)"})
    max_mult: int = field(default=8, metadata={"help": "cap on the width multiplier"})
    bottom: int = field(default=0, metadata={"help": "first feature map width; 0 = from the size"})
    d_norm: str = field(default="layer", metadata={
        "help": "critic normalisation: layer, instance or none (never batch norm)"})


class WGANGP(UnconditionalGAN):
    name = "wgan-gp"
    summary = "Gulrajani et al.: DCGAN-shaped generator, critic without batch norm, WGAN-GP loss"
    version = "1"
    Config = WGANGPConfig
    defaults = {"image_size": 64, "batch_size": 64, "lr": 1e-4, "betas": (0.0, 0.9),
                "loss": "wgan-gp", "dataset": "sushi", "steps": 2000}

    data_kinds = ("image",)

    def check(self, config, spec):
        if spec.kind != "image":  # before the core's check: this one says what to use
            raise GankitError(f"wgan-gp needs image data; '{spec.name}' is {spec.kind} data "
                              "(try `gankit train vanilla --loss wgan-gp`)")
        gnn.check_conv_size(self.name, spec.size, config.bottom)
        if config.d_norm not in NORMS:
            raise GankitError(f"--set d_norm={config.d_norm}: choose layer, instance or none "
                              "(a gradient penalty needs a critic without batch norm)")
        gnn.check_positive(config, "z_dim", "ngf", "ndf", "max_mult")

    def build(self, config, spec, loss=None):
        return {
            "G": gnn.dcgan_generator(config.z_dim, spec.channels, spec.size, config.ngf,
                                     config.max_mult, config.bottom),
            "D": gnn.dcgan_discriminator(spec.channels, spec.size, config.ndf, config.max_mult,
                                         config.bottom, config.d_norm, bias=True),
        }


@hookimpl
def register_models(register):
    register(WGANGP(), aliases=("wgangp",))


@hookimpl
def register_losses(register):
    register(WassersteinGP(), aliases=("wgangp", "wasserstein-gp"))
