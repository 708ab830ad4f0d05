"""The class-conditional DCGAN: a class embedding concatenated to the generator's noise,
and a projection discriminator (Miyato & Koyama 2018, "cGANs with Projection
Discriminator"): the score of an image x of class y is ``psi(phi(x)) + <embed(y),
sum phi(x)>``, with ``phi`` the convolutional trunk and ``psi`` DCGAN's last layer."""

from __future__ import annotations

import torch
from torch import nn

from gankit import nn as gnn


class ConditionalGenerator(nn.Module):
    """``G(z, labels)``: the DCGAN generator on the noise and the class embedding side by
    side (``2 * z_dim`` inputs). ``labels`` are int64 class indices, or float (N, K)
    class weights whose embeddings are mixed (class interpolation, the studio's slider)."""

    def __init__(self, z_dim: int, num_classes: int, channels: int, size: int, ngf: int,
                 max_mult: int, bottom: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, z_dim)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # on the noise's scale
        self.body = gnn.dcgan_generator(2 * z_dim, channels, size, ngf, max_mult, bottom)

    def forward(self, z, labels=None):
        if labels is None:  # a caller that knows no classes: sample i is of class i mod K
            labels = torch.arange(z.shape[0], device=z.device) % self.embed.num_embeddings
        if labels.is_floating_point():  # (N, K) class weights: a mix of the embeddings
            e = labels.to(self.embed.weight.dtype) @ self.embed.weight
        else:
            e = self.embed(labels)
        return self.body(torch.cat([z, e.to(z.dtype)], 1))


class ProjectionDiscriminator(nn.Module):
    """``D(x, y=labels)``: DCGAN's strided-conv trunk, its last layer as the unconditional
    score, plus the inner product of the class embedding with the summed features."""

    def __init__(self, num_classes: int, channels: int, size: int, ndf: int, max_mult: int,
                 bottom: int, norm: str, mbstd: int = 0):
        super().__init__()
        full = gnn.dcgan_discriminator(channels, size, ndf, max_mult, bottom, norm, mbstd=mbstd)
        layers = list(full.children())
        self.trunk = nn.Sequential(*layers[:-2])
        self.head = layers[-2]  # conv over the last b x b map -> one score
        width = self.head.in_channels
        self.embed = nn.Embedding(num_classes, width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x, y):
        h = self.trunk(x)
        score = self.head(h).flatten(0)
        proj = (self.embed(y).to(h.dtype) * h.sum((2, 3))).sum(1)
        return score + proj
