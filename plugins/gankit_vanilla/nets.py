"""MLP generator and discriminator on flattened samples."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPGenerator(nn.Module):
    """z -> hidden LeakyReLU layers -> a sample of ``shape`` (tanh or linear output)."""

    def __init__(self, z_dim: int, hidden, shape, slope: float, tanh: bool):
        super().__init__()
        layers, width = [], z_dim
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.LeakyReLU(slope)]
            width = int(h)
        layers.append(nn.Linear(width, math.prod(shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.shape = tuple(shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """A flattened sample -> hidden LeakyReLU + dropout layers -> one raw score (logit)."""

    def __init__(self, in_dim: int, hidden, slope: float, dropout: float):
        super().__init__()
        layers, width = [], in_dim
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.LeakyReLU(slope)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def build(config, spec, hidden, d_hidden, dropout) -> dict:
    shape = spec.shape
    tanh = config.output == "tanh" or (config.output == "auto" and spec.kind == "image")
    g = MLPGenerator(config.z_dim, hidden, shape, config.slope, tanh)
    d = MLPDiscriminator(math.prod(shape), d_hidden, config.slope, dropout)
    return {"G": g, "D": d}


