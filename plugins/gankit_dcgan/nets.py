"""DCGAN networks: sized from the image size, N(0, 0.02) init."""

from __future__ import annotations

import torch
from torch import nn

from . import size_plan


def d_norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # layer norm over (C, H, W)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def widths(base: int, k: int, max_mult: int) -> list[int]:
    """Channels from the bottom (smallest map) up, k entries."""
    return [base * min(2 ** (k - 1 - i), max_mult) for i in range(k)]


class Generator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int, max_mult: int, bottom: int):
        super().__init__()
        b, k = size_plan(size, bottom)
        ch = widths(ngf, k, max_mult)
        layers = [nn.ConvTranspose2d(z_dim, ch[0], b, 1, 0, bias=False), nn.BatchNorm2d(ch[0]),
                  nn.ReLU(True)]
        for i in range(k - 1):
            layers += [nn.ConvTranspose2d(ch[i], ch[i + 1], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch[i + 1]), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.z_dim, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, channels: int, size: int, ndf: int, max_mult: int, bottom: int, norm: str):
        super().__init__()
        b, k = size_plan(size, bottom)
        ch = list(reversed(widths(ndf, k, max_mult)))  # ndf first
        layers = [nn.Conv2d(channels, ch[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for i in range(k - 1):
            layers += [nn.Conv2d(ch[i], ch[i + 1], 4, 2, 1, bias=False),
                       d_norm_layer(norm, ch[i + 1]), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ch[-1], 1, b, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten(1).squeeze(1)


def build(config, spec, norm: str) -> dict:
    g = Generator(config.z_dim, spec.channels, spec.size, config.ngf, config.max_mult, config.bottom)
    d = Discriminator(spec.channels, spec.size, config.ndf, config.max_mult, config.bottom, norm)
    g.apply(init_weights)
    d.apply(init_weights)
    return {"G": g, "D": d}
