"""The lsgan-mnist networks (Mao et al.'s MNIST-sized architecture, scaled by ngf/ndf)."""

from __future__ import annotations

from torch import nn


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z -> fc to (2*ngf, s/4, s/4) -> two 2x transposed convs -> tanh."""

    def __init__(self, z_dim: int, ngf: int, channels: int, size: int):
        super().__init__()
        self.side = size // 4
        self.width = 2 * ngf
        n = self.width * self.side * self.side
        self.fc = nn.Sequential(nn.Linear(z_dim, n, bias=False), nn.BatchNorm1d(n), nn.ReLU(True))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1), nn.Tanh(),  # samples in [-1, 1]
        )
        self.apply(_init)

    def forward(self, z):
        return self.up(self.fc(z).view(z.shape[0], self.width, self.side, self.side))


class Discriminator(nn.Module):
    """Two strided convs and a linear layer to one raw score (no sigmoid: losses own it)."""

    def __init__(self, ndf: int, channels: int, size: int, batchnorm: bool):
        super().__init__()
        side = size // 4
        norm = nn.BatchNorm2d(2 * ndf) if batchnorm else nn.GroupNorm(1, 2 * ndf)
        self.net = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), norm, nn.LeakyReLU(0.2, True),
            nn.Flatten(), nn.Linear(2 * ndf * side * side, 1),
        )
        self.apply(_init)

    def forward(self, x):
        return self.net(x)


def build(config, spec, batchnorm: bool = True) -> dict:
    return {
        "G": Generator(config.z_dim, config.ngf, spec.channels, spec.size),
        "D": Discriminator(config.ndf, spec.channels, spec.size, batchnorm),
    }
