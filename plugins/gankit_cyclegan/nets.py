"""CycleGAN networks, after the authors' reference implementation (Zhu, Park et al.).

* :class:`ResnetGenerator`: Johnson et al.'s transformer network: 7x7 conv, two stride-2
  convs, ``n_blocks`` residual blocks, two fractionally strided convs, 7x7 conv, tanh.
  Reflection padding; any input whose sides are multiples of 4.
* :class:`UnetGenerator`: the U-Net of pix2pix (skip connections between mirrored
  layers), down to 1x1 for power-of-two sizes; sides must be multiples of 2**downs.
* :class:`PatchDiscriminator`: the 70x70 PatchGAN (3 strided layers), one raw score
  (logit) per overlapping patch.

Instance norm without affine parameters by default; weights N(0, 0.02), biases zero.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from . import unet_downs


def norm_factory(kind: str):
    """(norm layer factory, whether convs need a bias) as in the reference code."""
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True), False
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False), True
    return (lambda ch: nn.Identity()), True


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ResnetBlock(nn.Module):
    def __init__(self, ch: int, norm, bias: bool, dropout: bool):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=bias), norm(ch), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=bias), norm(ch)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, ngf: int, n_blocks: int, norm: str = "instance",
                 dropout: bool = False):
        super().__init__()
        nl, bias = norm_factory(norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=bias), nl(ngf),
                  nn.ReLU(True)]
        ch = ngf
        for _ in range(2):  # downsampling
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=bias), nl(ch * 2),
                       nn.ReLU(True)]
            ch *= 2
        layers += [ResnetBlock(ch, nl, bias, dropout) for _ in range(n_blocks)]
        for _ in range(2):  # upsampling
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias), nl(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the inner levels, up, and the skip concatenation."""

    def __init__(self, outer: int, inner: int, in_ch: int | None = None,
                 sub: nn.Module | None = None, outermost: bool = False, innermost: bool = False, norm=None, bias: bool = True,
                 dropout: bool = False, out_ch: int | None = None):
        super().__init__()
        self.outermost = outermost
        in_ch = in_ch or outer
        down = nn.Conv2d(in_ch, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, out_ch or outer, 4, stride=2, padding=1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, norm(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, norm(inner), sub, nn.ReLU(True), up,
                      norm(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, ngf: int, downs: int, norm: str = "instance",
                 dropout: bool = False):
        super().__init__()
        nl, bias = norm_factory(norm)
        kw = dict(norm=nl, bias=bias)
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, dropout=dropout, **kw)
        block = UnetBlock(ngf * 4, ngf * 8, sub=block, **kw)
        block = UnetBlock(ngf * 2, ngf * 4, sub=block, **kw)
        block = UnetBlock(ngf, ngf * 2, sub=block, **kw)
        self.model = UnetBlock(ngf, ngf, in_ch=in_ch, sub=block, outermost=True, out_ch=out_ch,
                               **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4x4 convs, one stride-1, then a 1-channel score map."""

    def __init__(self, in_ch: int, ndf: int, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        nl, bias = norm_factory(norm)
        layers = [nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias),
                       nl(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias),
                   nl(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def make_generator(config, channels: int, size: int, n_blocks: int) -> nn.Module:
    if config.generator == "unet":
        return UnetGenerator(channels, channels, config.ngf, unet_downs(size), config.norm,
                             config.dropout)
    return ResnetGenerator(channels, channels, config.ngf, n_blocks, config.norm, config.dropout)


def build(config, spec, n_blocks: int) -> dict:
    c = spec.channels
    nets = {
        "G_AB": make_generator(config, c, spec.size, n_blocks),
        "G_BA": make_generator(config, c, spec.size, n_blocks),
        "D_A": PatchDiscriminator(c, config.ndf, config.d_layers, config.norm),
        "D_B": PatchDiscriminator(c, config.ndf, config.d_layers, config.norm),
    }
    for net in nets.values():
        net.apply(init_weights)
    return nets
