"""2-D Gaussian mixtures for studying mode collapse: ``ring8`` and ``grid25``.

The settings follow the mode-collapse literature:

- ``ring8``: 8 Gaussians evenly spaced on a circle of radius 2, standard deviation 0.02
  (Metz et al. 2017, "Unrolled GANs"; used again by Srivastava et al. 2017, VEEGAN).
- ``grid25``: 25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, standard deviation 0.05
  (Srivastava et al. 2017; Lin et al. 2018, PacGAN).

Samples are float32 (N, 2) in data units (not scaled to [-1, 1]); ``Data.meta`` holds
the mode centres and the standard deviation, which ``gankit evaluate`` uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gankit import Data, Dataset, DataSpec, UsageError

MAX_COUNT = 10_000_000  # points of a 2-D data set (80 MB as float32)
DEFAULT_COUNT = 10_000


def ring_centers(n: int = 8, radius: float = 2.0) -> list[list[float]]:
    return [[radius * math.cos(2 * math.pi * k / n), radius * math.sin(2 * math.pi * k / n)]
            for k in range(n)]


def grid_centers(side: int = 5, spacing: float = 2.0) -> list[list[float]]:
    half = (side - 1) / 2
    vals = [(i - half) * spacing for i in range(side)]
    return [[x, y] for x in vals for y in vals]


def sample_mixture(centers, std: float, n: int, seed: int):
    """``n`` float32 points: a uniformly chosen centre plus isotropic N(0, std^2) noise.

    Uses its own generator (never the global RNG), so the same seed gives the same set.
    """
    import torch

    g = torch.Generator().manual_seed(int(seed))
    c = torch.tensor(centers, dtype=torch.float32)
    idx = torch.randint(0, c.shape[0], (n,), generator=g)
    return c[idx] + std * torch.randn((n, c.shape[1]), generator=g)


@dataclass
class MixtureOptions:
    count: int = field(default=DEFAULT_COUNT, metadata={"help": "points drawn (from --seed)"})


class Mixture2D(Dataset):
    kind = "vector"
    std: float = 0.02
    Config = MixtureOptions

    def centers(self) -> list[list[float]]:
        raise NotImplementedError

    def load(self, options):
        cfg = options.config or MixtureOptions()
        n = int(options.extra.get("toy_count", cfg.count))  # extra: gankit 0.1's route
        if not 1 <= n <= MAX_COUNT:  # a flag's value: exit 2, before any memory is asked
            raise UsageError(f"--set data.count={n}: {self.name} draws 1 to {MAX_COUNT:,} "
                             "points")
        centers = self.centers()
        samples = sample_mixture(centers, self.std, n, options.seed)
        spec = DataSpec(kind="vector", dim=2, channels=0, size=0, name=self.name)
        return Data(samples=samples, spec=spec, meta={"centers": centers, "std": self.std})


class Ring8(Mixture2D):
    name = "ring8"
    summary = "2-D: 8 Gaussians on a circle of radius 2, std 0.02 (mode-collapse benchmark)"
    std = 0.02
    # what reaches all 8 modes with >= 90 % high-quality samples (README, mode collapse)
    suggested = {"lr": 5e-4, "steps": 16000, "decay_from": 8000}

    def centers(self):
        return ring_centers(8, 2.0)


class Grid25(Mixture2D):
    name = "grid25"
    summary = "2-D: 25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (mode-collapse benchmark)"
    std = 0.05

    def centers(self):
        return grid_centers(5, 2.0)
