"""The networks of the lightweight GAN (FastGAN, Liu et al. ICLR 2021), for any output
size 2^k from 64 to 1024 pixels.

Generator: the latent code becomes a 4x4 map through a transposed convolution (batch
norm, GLU), then upsampling blocks (nearest 2x, 3x3 conv, batch norm, GLU; every other
block has a second conv and per-pixel noise) double it up to the output size. Skip-layer
excitation (SLE) gates the channels of a large map with a squeeze of a map 16 times
smaller (4 -> 64, 8 -> 128, 16 -> 256, 32 -> 512 where both exist). Widths follow the
paper: ``ngf`` times 16, 8, 4, 2, 2, 1, 1/2, 1/4, 1/8 at 4, 8, ..., 1024 px.

Discriminator: a main path from the image down to 8x8 (residual down blocks, SLE from
each map to the one 8 times smaller), scored by a small head, and a second path on a
half-size copy of the image (at most 128 px), scored by its own head; the scores are
the two heads' 5x5 maps side by side, shape (N, 50). Asked to (``reconstruct=True``),
it also decodes the main path's 8x8 map, the second path's 8x8 map and one quadrant of
the main path's 16x16 map back into pictures, and returns them with the matching
box-filtered downsamples of its own input (at most ``rec_size``, 128 px) as targets: that is the
self-supervision which keeps D from memorising a few hundred images.

All convolutions are spectrally normalised, as in the paper's code. The per-pixel
noise is added while training only; in eval mode (sampling) it is left out, so one
latent code always gives the same picture.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit import nn as gnn

#: generator width multipliers per feature map side (the paper's ``nfc_multi``)
G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
#: SLE: a map of side r gates the map of side 16 r
SLE_RATIO = 16
#: the discriminator's SLE: a map of side r gates the map of side r / 8
D_SLE_RATIO = 8
MIN_CH = 4


def add_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral normalisation on every (transposed) convolution of ``net``, in place."""
    for m in list(net.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            spectral_norm(m)
    return net


def g_channels(ngf: int, side: int) -> int:
    return max(MIN_CH, int(G_MULT[side] * ngf))


def d_channels(ndf: int, side: int) -> int:
    """Discriminator width at a feature map of side ``side``: ``ndf * 64 / side``, as in
    the paper (8x8: 8 ndf, 64x64: ndf, 256x256: ndf / 4)."""
    return max(MIN_CH, ndf * 64 // side)


def small_size(size: int) -> int:
    """The side of the discriminator's second input: half the image, at most 128."""
    return min(128, size // 2)


def rec_size(size: int, config_rec: int = 0) -> int:
    return min(config_rec or 128, size)


class GLU(nn.Module):
    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class NoiseInjection(nn.Module):
    """``x + w * noise`` with one learned ``w`` (zero at start), while training only."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        if not self.training:
            return x
        n, _, h, w = x.shape
        noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
        return x + self.weight.to(x.dtype) * noise


class SLE(nn.Module):
    """Skip-layer excitation: channel gates for ``big`` from a 4x4 squeeze of ``small``."""

    def __init__(self, ch_small: int, ch_big: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(ch_small, ch_big, 4, 1, 0, bias=False), Swish(),
            nn.Conv2d(ch_big, ch_big, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, small, big):
        return big * self.main(small)


def up_block(cin: int, cout: int, double: bool = False, noise: bool = True):
    """Nearest 2x, 3x3 conv, batch norm, GLU; ``double``: a second conv (the paper's
    ``UpBlockComp``), each conv followed by noise injection when ``noise``."""
    layers = [nn.Upsample(scale_factor=2, mode="nearest"),
              nn.Conv2d(cin, cout * 2, 3, 1, 1, bias=False)]
    if double and noise:
        layers.append(NoiseInjection())
    layers += [nn.BatchNorm2d(cout * 2), GLU()]
    if double:
        layers.append(nn.Conv2d(cout, cout * 2, 3, 1, 1, bias=False))
        if noise:
            layers.append(NoiseInjection())
        layers += [nn.BatchNorm2d(cout * 2), GLU()]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, ngf: int,
                 noise: bool = True, num_classes: int = 0):
        super().__init__()
        self.size = size
        c4 = g_channels(ngf, 4)
        # --conditional: a class embedding beside the noise (as the conditional DCGAN's)
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        self.init = nn.Sequential(
            nn.ConvTranspose2d(z_dim * (2 if num_classes else 1), c4 * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c4 * 2), GLU())
        self.sides = [4 * 2 ** i for i in range(int(math.log2(size)) - 1)]  # 4 .. size
        self.ups = nn.ModuleDict()
        for i, side in enumerate(self.sides[1:]):
            # as in the paper: 8, 32, 128, 512 get the double block
            self.ups[str(side)] = up_block(g_channels(ngf, side // 2), g_channels(ngf, side),
                                           double=(i % 2 == 0), noise=noise)
        self.sle = nn.ModuleDict({
            str(side * SLE_RATIO): SLE(g_channels(ngf, side), g_channels(ngf, side * SLE_RATIO))
            for side in self.sides if side * SLE_RATIO <= min(size, 512)})
        self.to_rgb = nn.Conv2d(g_channels(ngf, size), channels, 3, 1, 1, bias=False)

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = torch.cat([z, gnn.class_embedding(self.embed, labels, z).to(z.dtype)], 1)
        feats = {4: self.init(z.view(z.shape[0], -1, 1, 1))}
        x = feats[4]
        for side in self.sides[1:]:
            x = self.ups[str(side)](x)
            gate = self.sle[str(side)] if str(side) in self.sle else None
            if gate is not None:
                x = gate(feats[side // SLE_RATIO], x)
            feats[side] = x
        return torch.tanh(self.to_rgb(x))


def down_block(cin: int, cout: int):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True))


class DownBlockComp(nn.Module):
    """The paper's residual down block: (strided conv path + avg-pool path) / 2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(
            nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    def forward(self, x):
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """8x8 features -> an image of side ``out`` (the paper's ``SimpleDecoder``)."""

    def __init__(self, cin: int, channels: int, out: int, ndf: int):
        super().__init__()

        def width(side):  # the paper's decoder widths (2 ndf at 16 px ... ndf / 2 at 128)
            return max(MIN_CH, {16: 2 * ndf, 32: ndf, 64: ndf}.get(side, ndf // 2))

        layers, c, side = [nn.AdaptiveAvgPool2d(8)], cin, 8
        while side < out:
            side *= 2
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(c, width(side) * 2, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(width(side) * 2), GLU()]
            c = width(side)
        layers += [nn.Conv2d(c, channels, 3, 1, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, channels: int, size: int, ndf: int, rec: int = 0, num_classes: int = 0):
        super().__init__()
        self.size = size
        self.small = small_size(size)
        self.rec = rec_size(size, rec)
        top = min(size, 256)  # the main path's residual blocks start here
        stem = []
        if size <= 256:
            stem += [nn.Conv2d(channels, d_channels(ndf, size), 3, 1, 1, bias=False),
                     nn.LeakyReLU(0.2, inplace=True)]
        else:  # 512, 1024: strided convs down to 256 first, as in the paper
            stem += [nn.Conv2d(channels, d_channels(ndf, size // 2), 4, 2, 1, bias=False),
                     nn.LeakyReLU(0.2, inplace=True)]
            side = size // 2
            while side > top:
                stem.append(down_block(d_channels(ndf, side), d_channels(ndf, side // 2)))
                side //= 2
        self.stem = nn.Sequential(*stem)
        self.main_sides = []
        self.downs = nn.ModuleDict()
        side = top
        while side > 8:
            self.downs[str(side // 2)] = DownBlockComp(d_channels(ndf, side),
                                                       d_channels(ndf, side // 2))
            side //= 2
            self.main_sides.append(side)
        self.sle = nn.ModuleDict({
            str(s // D_SLE_RATIO): SLE(d_channels(ndf, s), d_channels(ndf, s // D_SLE_RATIO))
            for s in [top, *self.main_sides] if s // D_SLE_RATIO >= 8})
        self.head = nn.Sequential(
            nn.Conv2d(d_channels(ndf, 8), d_channels(ndf, 4), 1, 1, 0, bias=False),
            nn.BatchNorm2d(d_channels(ndf, 4)), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d_channels(ndf, 4), 1, 4, 1, 0, bias=False))
        # the second path: the image at half size (at most 128), its own head
        s = self.small // 2  # a feature map of side s has d_channels(ndf, 2 s) channels here
        small = [nn.Conv2d(channels, d_channels(ndf, 2 * s), 4, 2, 1, bias=False),
                 nn.LeakyReLU(0.2, inplace=True)]
        while s > 8:
            small.append(down_block(d_channels(ndf, 2 * s), d_channels(ndf, s)))
            s //= 2
        self.small_path = nn.Sequential(*small)
        self.small_head = nn.Conv2d(d_channels(ndf, 16), 1, 4, 1, 0, bias=False)
        self.decode_big = Decoder(d_channels(ndf, 8), channels, self.rec, ndf)
        self.rec_small = min(self.rec, self.small)
        self.decode_small = Decoder(d_channels(ndf, 16), channels, self.rec_small, ndf)
        self.rec_part = min(self.rec, size // 2)
        self.decode_part = Decoder(d_channels(ndf, 16), channels, self.rec_part, ndf)
        # --conditional: projection (Miyato & Koyama 2018) on both paths' last features
        self.embed = self.embed_small = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, d_channels(ndf, 8))
            self.embed_small = nn.Embedding(num_classes, d_channels(ndf, 16))

    def forward(self, x, reconstruct: bool = False, part: int = 0, y=None):
        """Scores (N, 50) (with the class term of labels ``y`` on a conditional run);
        with ``reconstruct``, a dict: ``logits`` (the scores), the
        decoders' ``rec_big``, ``rec_small``, ``rec_part`` (quadrant ``part``: 0 top left,
        1 top right, 2 bottom left, 3 bottom right) and their ``target_*`` images."""
        feats = {}
        h = self.stem(x)
        feats[min(self.size, 256)] = h
        for side in self.main_sides:
            h = self.downs[str(side)](h)
            gate = self.sle[str(side)] if str(side) in self.sle else None
            if gate is not None:
                h = gate(feats[side * D_SLE_RATIO], h)
            feats[side] = h
        x_small = _resize(x, self.small)
        f_small = self.small_path(x_small)
        n = x.shape[0]
        main, small = self.head(feats[8]).reshape(n, -1), self.small_head(f_small).reshape(n, -1)
        if self.embed is not None and y is not None:  # the class term of every score
            main = main + (self.embed(y).to(main.dtype) * feats[8].sum((2, 3))).sum(
                1, keepdim=True)
            small = small + (self.embed_small(y).to(small.dtype) * f_small.sum((2, 3))).sum(
                1, keepdim=True)
        logits = torch.cat([main, small], dim=1)
        if not reconstruct:
            return logits
        f16 = feats[16]
        r, c = divmod(int(part), 2)
        quarter = f16[:, :, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8]
        half = self.size // 2
        crop = x[:, :, r * half:(r + 1) * half, c * half:(c + 1) * half]
        return {
            "logits": logits,
            "rec_big": self.decode_big(feats[8]),
            "rec_small": self.decode_small(f_small),
            "rec_part": self.decode_part(quarter),
            "target_big": _resize(x, self.rec),
            "target_small": _resize(x_small, self.rec_small),
            "target_part": _resize(crop, self.rec_part),
        }


def _resize(x, side: int):
    """Downsample by a power of two with a box filter (every image side here is one)."""
    factor = x.shape[-1] // side
    return x if factor == 1 else F.avg_pool2d(x, factor)


def init_weights(module) -> None:
    """The paper's init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build(config, spec) -> dict:
    k = getattr(spec, "num_classes", 0)
    nets = {"G": Generator(config.z_dim, spec.channels, spec.size, config.ngf, config.noise, k),
            "D": Discriminator(spec.channels, spec.size, config.ndf, config.rec_size, k)}
    for net in nets.values():
        init_weights(net)
        if config.spectral_norm:  # after the init, so the power iteration starts from it
            add_spectral_norm(net)
    if k:  # the generator's class embedding on the noise's scale
        nn.init.normal_(nets["G"].embed.weight, 0.0, 1.0)
    return nets


def reconstruction_loss(out: dict, kind: str = "mse"):
    """The decoders' loss: the sum over big, small and part of the mean L1 or MSE
    between reconstruction and target, in float32."""
    fn = F.l1_loss if kind == "l1" else F.mse_loss
    return sum(fn(out[f"rec_{k}"].float(), out[f"target_{k}"].float())
               for k in ("big", "small", "part"))
