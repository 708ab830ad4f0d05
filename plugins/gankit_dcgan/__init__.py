"""DCGAN (Radford et al. 2015) as a gankit plugin."""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, UnconditionalGAN, hookimpl

__version__ = "1.0.0"

MIN_SIZE = 28


def size_plan(size: int, bottom: int = 0) -> tuple[int, int]:
    """(first feature map width b, number of 2x upsamplings k) with size = b * 2**k.

    Auto: the largest k that leaves 3 <= b <= 7. ``bottom`` forces b (the sushi
    article's ``bottom_width=12`` for 96 px).
    """
    if size < MIN_SIZE:
        raise ValueError
    if bottom:
        k = 0
        while bottom * 2 ** k < size:
            k += 1
        if bottom * 2 ** k != size or k < 1:
            raise ValueError
        return bottom, k
    b, k = size, 0
    while b % 2 == 0 and b // 2 >= 3:
        b //= 2
        k += 1
    if not 3 <= b <= 7 or k < 1:
        raise ValueError
    return b, k


def supported_sizes(limit: int = 512) -> list[int]:
    out = []
    for s in range(MIN_SIZE, limit + 1):
        try:
            size_plan(s)
            out.append(s)
        except ValueError:
            pass
    return out


@dataclass
class DCGANConfig:
    z_dim: int = field(default=100, metadata={"help": "latent size"})
    ngf: int = field(default=64, metadata={"help": "generator width (channels of the last layer)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer)"})
    max_mult: int = field(default=8, metadata={"help": "cap on the width multiplier"})
    bottom: int = field(default=0, metadata={"help": "first feature map width; 0 = from the size"})
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

    def check(self, config, spec):
        if spec.kind != "image":
            raise GankitError(f"dcgan needs image data; '{spec.name}' is {spec.kind} data "
                              "(try `gankit train vanilla`)")
        try:
            size_plan(spec.size, config.bottom)
        except ValueError:
            sizes = ", ".join(map(str, supported_sizes(256)))
            extra = f" with --set bottom={config.bottom}" if config.bottom else ""
            raise GankitError(
                f"--image-size {spec.size}: dcgan cannot build that size{extra}; supported: "
                f"{sizes}, ... (b*2^k with 3 <= b <= 7, at least {MIN_SIZE})"
            ) from None
        if config.d_norm not in ("auto", "batch", "layer", "instance", "none"):
            raise GankitError(f"--set d_norm={config.d_norm}: choose auto, batch, layer, "
                              "instance or none")
        for k in ("z_dim", "ngf", "ndf", "max_mult"):
            if getattr(config, k) < 1:
                raise GankitError(f"--set {k}={getattr(config, k)}: must be at least 1")

    def build(self, config, spec, loss=None):
        from .nets import build

        norm = config.d_norm
        if norm == "auto":
            norm = "batch" if loss is None or loss.batchnorm_ok else "layer"
        return build(config, spec, norm)


@hookimpl
def register_models(register):
    register(DCGAN(), aliases=("dc",))
