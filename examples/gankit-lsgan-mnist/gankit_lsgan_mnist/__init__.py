"""gankit-lsgan-mnist: a complete third-party gankit plugin.

It registers, through the public API only (``from gankit import ...``):

- the model ``lsgan-mnist``: a small convolutional GAN for 28x28 digits (Mao et al.'s
  least-squares GAN; any image size that is a multiple of 4), trained with the built-in
  ``lsgan`` loss by default;
- the loss ``lsgan-pearson``: LSGAN with a = -1, b = 1, c = 0 (Mao et al., eq. 9), which
  minimises the Pearson chi-squared divergence;
- the data set ``digits``: MNIST-like handwritten digits drawn procedurally, so everything
  works offline (``--dataset mnist --data ROOT`` trains it on the real MNIST files);
- a trainer hook, ``on_train_end``: every run gets a ``loss-curve.png`` beside its
  ``metrics.jsonl``;
- a command, ``gankit loss-curve [RUN] [--out FILE]``, that draws the same picture for
  any run.

gankit imports this module to list models and plugins, so it stays light: torch, numpy
and Pillow are imported inside ``build()``, ``load()`` and the hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import Dataset, GankitError, Loss, UnconditionalGAN, hookimpl

__version__ = "0.1.0"


@dataclass
class Config:
    """Architecture options: `gankit train lsgan-mnist --set ngf=32`."""

    z_dim: int = field(default=62, metadata={"help": "latent size"})
    ngf: int = field(default=64, metadata={"help": "generator width (last hidden layer)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer)"})


class LSGANMnist(UnconditionalGAN):
    name = "lsgan-mnist"
    summary = "LSGAN (Mao et al.) for MNIST-sized digits: fc + 2 deconvs, 2 convs + fc"
    # Bump when the networks' tensors change: old checkpoints are then refused with a
    # clear message by `gankit sample` and friends instead of failing half-way.
    version = "1"
    Config = Config
    defaults = {"image_size": 28, "batch_size": 64, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "lsgan", "dataset": "digits", "steps": 3000}

    def check(self, config, spec):
        if spec.kind != "image":
            raise GankitError(f"lsgan-mnist needs image data; '{spec.name}' is {spec.kind} data")
        if spec.size % 4 or spec.size < 8:
            raise GankitError(f"--image-size {spec.size}: lsgan-mnist needs a multiple of 4 "
                              "of at least 8 (28 for MNIST)")
        for key in ("z_dim", "ngf", "ndf"):
            if getattr(config, key) < 1:
                raise GankitError(f"--set {key}={getattr(config, key)}: must be at least 1")

    def build(self, config, spec, loss=None):
        from .nets import build

        # a loss with a gradient penalty forbids batch norm in the critic
        batchnorm = loss is None or loss.batchnorm_ok
        return build(config, spec, batchnorm=batchnorm)


class LSGANPearson(Loss):
    name = "lsgan-pearson"
    summary = ("least squares, a=-1 b=1 c=0 (Pearson chi2): "
               "D (D(x)-1)^2 + (D(G(z))+1)^2, G D(G(z))^2")

    def d_loss(self, real_scores, fake_scores):
        return (0.5 * ((real_scores.float() - 1) ** 2).mean()
                + 0.5 * ((fake_scores.float() + 1) ** 2).mean())

    # One argument on purpose: a generator loss that declares ``real_scores`` makes the
    # training step compute D's scores on real images for it (one more D forward pass);
    # this one does not need them. gankit's relativistic losses (rsgan, ragan, ralsgan)
    # show the two-argument form.
    def g_loss(self, fake_scores):
        return 0.5 * (fake_scores.float() ** 2).mean()


@dataclass
class DigitsOptions:
    count: int = field(default=2048, metadata={"help": "how many digits to draw"})
    seed: int = field(default=0, metadata={"help": "which digits (the same set for a seed)"})


class Digits(Dataset):
    name = "digits"
    summary = "MNIST-like handwritten digits 0-9, drawn procedurally (offline, 2048 images)"
    kind = "image"
    default_size = 28
    flip = False  # mirrored digits are not digits
    Config = DigitsOptions  # gankit train --set data.count=6000 --set data.seed=1

    def load(self, options):
        import torch

        from gankit import Data, DataSpec

        from .digits import render_digits

        size = options.image_size or self.default_size
        cfg = options.config or DigitsOptions()
        n = int(options.extra.get("digits_count", cfg.count))  # extra: gankit 0.1's route
        seed = int(options.extra.get("digits_seed", cfg.seed))
        if n < 1:
            raise GankitError(f"--set data.count={n}: must be at least 1")
        images, labels = render_digits(n, size=size, seed=seed)
        samples = torch.from_numpy(images).unsqueeze(1)  # uint8 (N, 1, H, W)
        spec = DataSpec(kind="image", channels=1, size=size, name=self.name)
        return Data(samples=samples, spec=spec,
                    names=[f"{i:05d}-{d}" for i, d in enumerate(labels)],
                    meta={"labels": [int(d) for d in labels]})


@hookimpl
def register_models(register):
    register(LSGANMnist(), aliases=("lsgan-digits",))


@hookimpl
def register_losses(register):
    register(LSGANPearson(), aliases=("pearson",))


@hookimpl
def register_datasets(register):
    register(Digits())


@hookimpl
def on_train_end(trainer, status):
    """Draw ``loss-curve.png`` in the run folder, whatever the model and however it ended."""
    if not trainer.is_main:  # under torchrun every process calls the hook; one draws
        return
    from .curve import write_curve

    write_curve(trainer.run_dir)


@hookimpl
def register_commands(cli):
    from .cli import loss_curve

    cli.add_command(loss_curve)
