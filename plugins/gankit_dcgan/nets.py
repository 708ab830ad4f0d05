"""The class-conditional DCGAN: the class given to the generator by an embedding
concatenated to its noise or by conditional batch norm (a class's own scale and shift
after every batch norm, de Vries et al. 2017 / Miyato & Koyama 2018), and a projection
discriminator (Miyato & Koyama 2018, "cGANs with Projection
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
        return self.body(torch.cat([z, gnn.class_embedding(self.embed, labels, z).to(z.dtype)], 1))


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine part, followed by a scale and shift looked up
    per class (float (N, K) class weights mix the classes' scales and shifts)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        # DCGAN's batch-norm init, drawn per class (so the classes differ from the start)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)
        nn.init.normal_(self.bias.weight, 0.0, 0.02)

    def forward(self, x, labels):
        h = self.bn(x)
        gain = gnn.class_embedding(self.gain, labels, x)
        bias = gnn.class_embedding(self.bias, labels, x)
        return h * gain.to(h.dtype)[:, :, None, None] + bias.to(h.dtype)[:, :, None, None]


class CBNGenerator(nn.Module):
    """``G(z, labels)``: the DCGAN generator on the noise alone, each of its batch norms
    replaced by :class:`ConditionalBatchNorm2d`, so the class sets every layer's scale
    and shift (``--set g_cond=cbn``)."""

    def __init__(self, z_dim: int, num_classes: int, channels: int, size: int, ngf: int,
                 max_mult: int, bottom: int):
        super().__init__()
        layers = list(gnn.dcgan_generator(z_dim, channels, size, ngf, max_mult, bottom))
        self.layers = nn.ModuleList(
            ConditionalBatchNorm2d(m.num_features, num_classes)
            if isinstance(m, nn.BatchNorm2d) else m for m in layers)

    def forward(self, z, labels=None):
        h = z
        for layer in self.layers:
            h = layer(h, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class ProjectionDiscriminator(nn.Module):
    """``D(x, y=labels)``: DCGAN's strided-conv trunk, its last layer as the unconditional
    score, plus the inner product of the class embedding with the summed features. With
    ``classifier``, ``D(x, y, classify=True)`` also returns the cross-entropy of a class
    classifier on the same features: ``{"logits": scores, "class_ce": loss}``."""

    def __init__(self, num_classes: int, channels: int, size: int, ndf: int, max_mult: int,
                 bottom: int, norm: str, mbstd: int = 0, classifier: str = ""):
        super().__init__()
        full = gnn.dcgan_discriminator(channels, size, ndf, max_mult, bottom, norm, mbstd=mbstd)
        layers = list(full.children())
        self.trunk = nn.Sequential(*layers[:-2])
        self.head = layers[-2]  # conv over the last b x b map -> one score
        width = self.head.in_channels
        self.embed = nn.Embedding(num_classes, width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        # --set class_loss=W: a linear classifier (AC-GAN's auxiliary classifier beside
        # the projection) on the mean-pooled features ("pooled") or on the whole last
        # feature map ("flat": where a stroke is, which pooling loses)
        self.flat = classifier == "flat"
        side = self.head.kernel_size[0]  # the last map is side x side
        feats = width * side * side if self.flat else width
        self.classify = nn.Linear(feats, num_classes) if classifier else None

    def forward(self, x, y, classify: bool = False):
        h = self.trunk(x)
        score = self.head(h).flatten(0)
        pooled = h.sum((2, 3))
        score = score + (self.embed(y).to(h.dtype) * pooled).sum(1)
        if not classify:
            return score
        feats = h.flatten(1) if self.flat else pooled / (h.shape[2] * h.shape[3])
        logits = self.classify(feats.float())
        return {"logits": score, "class_ce": nn.functional.cross_entropy(logits, y)}
