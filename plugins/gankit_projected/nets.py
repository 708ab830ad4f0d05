"""The projected discriminator (Sauer, Chitta, Müller, Geiger: "Projected GANs Converge
Faster", NeurIPS 2021) and its generator, for square images of 32 to 256 pixels.

The discriminator sees an image through a frozen ImageNet-pretrained EfficientNet-Lite0
(:mod:`gankit.pretrained`), resized to ``feature_size`` pixels first. Four of its feature
maps (strides 4, 8, 16, 32) are mixed across channels (cross-channel mixing, CCM: a
random 1x1 convolution per level, widening to ``proj`` x 1, 2, 4, 8 channels) and across
scales (cross-scale mixing, CSM: from the coarsest level down, upsample 2x, add the next
level, a random 1x1 convolution), as the paper's ``F_RandomProj`` does. The mixing
weights are drawn once when the run starts and never trained: they are buffers of the
network, so they are saved in every checkpoint and a resumed run sees exactly the same
projection. The pretrained network itself is never saved: it is held outside the
module tree and read once per process.

One small discriminator per level (strided 4x4 convolutions with batch norm and leaky
ReLU down to 8x8, then a 4x4 convolution to a score map; spectral normalisation on every
convolution) scores the mixed features; the score maps are flattened side by side.

The generator is the lightweight (FastGAN) model's, as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit import nn as gnn
from gankit import pretrained

from gankit_lightweight.nets import Generator, init_weights

MIN_CH = 8


def head_channels(ndf: int, side: int) -> int:
    """A level discriminator's width at a map of side ``side`` (the paper's channel
    table, 512 at 8 px ... 64 at 64 px, scaled by ``ndf`` / 64)."""
    table = {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 64, 256: 32}
    return max(MIN_CH, table.get(side, 32) * ndf // 64)


class Projection(nn.Module):
    """Fixed random cross-channel and cross-scale mixing of the four feature levels."""

    def __init__(self, proj: int):
        super().__init__()
        self.widths = [proj * 2 ** i for i in range(len(pretrained.LEVELS))]  # CCM outputs
        for i, (_, cin, _) in enumerate(pretrained.LEVELS):
            self._fixed(f"ccm{i}", self.widths[i], cin)
        # CSM, from the coarsest level: level i's output has the width of level i - 1
        for i in range(len(pretrained.LEVELS)):
            self._fixed(f"csm{i}", self.widths[max(i - 1, 0)], self.widths[i])

    def _fixed(self, name: str, cout: int, cin: int) -> None:
        conv = nn.Conv2d(cin, cout, 1)  # PyTorch's default init, as the paper's
        self.register_buffer(f"{name}_w", conv.weight.detach().clone())
        self.register_buffer(f"{name}_b", conv.bias.detach().clone())

    def _conv(self, name: str, x):
        # under autocast conv2d casts the fixed weights itself, as it does a layer's
        return F.conv2d(x, getattr(self, f"{name}_w"), getattr(self, f"{name}_b"))

    def forward(self, feats: list) -> list:
        ccm = [self._conv(f"ccm{i}", f) for i, f in enumerate(feats)]
        out, h = [None] * len(ccm), None
        for i in reversed(range(len(ccm))):
            h = ccm[i] if h is None else h + ccm[i]
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=True)
            h = self._conv(f"csm{i}", h)
            out[i] = h
        return out


def _sn_conv(cin, cout, k, s, p, sn=True):
    conv = nn.Conv2d(cin, cout, k, s, p, bias=False)
    return spectral_norm(conv) if sn else conv


class LevelD(nn.Module):
    """One level's discriminator: strided 4x4 convolutions with batch norm and leaky
    ReLU, then a 4x4 convolution to a score map. As in the paper, the number of down
    blocks is what the level would need at a 256-pixel input (4, 3, 2, 1 from the finest
    level), whatever the real input size, so that each score sees a large part of the
    image; it stops where the map would fall below 4x4."""

    def __init__(self, cin: int, side: int, level: int, ndf: int, sn: bool = True,
                 mbstd: int = 0):
        super().__init__()
        paper_side = 2 * 256 // pretrained.LEVELS[level][2]  # 128, 64, 32, 16
        downs = min(int(math.log2(paper_side // 8)), max(0, int(math.log2(max(side, 4) // 4))))
        layers, c, s = [], cin, paper_side
        for _ in range(downs):
            cout = head_channels(ndf, s // 2)
            layers += [_sn_conv(c, cout, 4, 2, 1, sn), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
            c, s = cout, s // 2
        c = gnn.with_minibatch_std(layers, c, mbstd)
        layers.append(_sn_conv(c, 1, 4, 1, 0, sn))
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class PixelD(nn.Module):
    """A small discriminator on the pixels of a 32 px copy of the image (box-filtered),
    down to 4x4 and one score: colour and layout, which the pretrained features barely
    see early in training (they were trained to ignore colour shifts)."""

    SIDE = 32

    def __init__(self, channels: int, ndf: int, sn: bool = True, mbstd: int = 0):
        super().__init__()
        layers, c, side = [], channels, self.SIDE
        while side > 4:
            cout = max(MIN_CH, ndf * 2 * self.SIDE // side)
            layers.append(_sn_conv(c, cout, 4, 2, 1, sn))
            if c != channels:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c, side = cout, side // 2
        c = gnn.with_minibatch_std(layers, c, mbstd)
        layers.append(_sn_conv(c, 1, 4, 1, 0, sn))
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        if x.shape[-1] > self.SIDE:
            x = F.avg_pool2d(x, x.shape[-1] // self.SIDE)
        return self.main(x)


def level_sides(feature_size: int) -> list:
    """The sides of the four mixed maps (CSM doubles each level's own side)."""
    return [max(1, 2 * feature_size // stride) for _, _, stride in pretrained.LEVELS]


class ProjectedDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, feature_size: int, proj: int, ndf: int,
                 sn: bool = True, pixel: bool = True, mbstd: int = 0):
        super().__init__()
        self.channels, self.size, self.feature_size = channels, size, feature_size
        self.projection = Projection(proj)
        widths = [self.projection.widths[max(i - 1, 0)] for i in range(len(pretrained.LEVELS))]
        self.heads = nn.ModuleList(LevelD(w, s, i, ndf, sn, mbstd)
                                   for i, (w, s) in enumerate(zip(widths, level_sides(feature_size))))
        self.pixel = PixelD(channels, ndf, sn, mbstd) if pixel else None

    def features(self, x) -> list:
        """The frozen network's four feature maps of ``x`` (images in [-1, 1])."""
        net = pretrained.efficientnet_lite0(x.device, folded=True)
        if self.channels == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.feature_size:
            x = F.interpolate(x, size=(self.feature_size, self.feature_size),
                              mode="bilinear", align_corners=False, antialias=False)
        return net.features(x.contiguous(memory_format=torch.channels_last))

    def forward(self, x):
        mixed = self.projection(self.features(x))
        n = x.shape[0]
        scores = [head(f).reshape(n, -1) for head, f in zip(self.heads, mixed)]
        if self.pixel is not None:
            scores.append(self.pixel(x).reshape(n, -1))
        return torch.cat(scores, 1)


def build(config, spec) -> dict:
    G = Generator(config.z_dim, spec.channels, spec.size, config.ngf, config.noise)
    init_weights(G)
    D = ProjectedDiscriminator(spec.channels, spec.size, config.feature_size, config.proj,
                               config.ndf, config.spectral_norm, config.pixel,
                               config.mbstd)
    return {"G": G, "D": D}
