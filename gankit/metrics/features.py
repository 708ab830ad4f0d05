"""gankit's no-download feature space for images: a fixed random convolutional net.

FID's Inception features need a 92 MB download and were trained on ImageNet photos;
nothing may be downloaded when ``gankit evaluate`` runs, and a few hundred sushi photos
are far from ImageNet anyway. So KID, the Fréchet distance, precision/recall and the
memorisation check are computed in a feature space that is defined entirely by this
file (``FEATURE_SPACE`` names it and its version):

- the image (uint8, grey images repeated to RGB) is resized to 64 x 64 (bilinear,
  antialiased) and scaled to [-1, 1], so runs at different sizes share one space;
- four stages of ``3x3 conv (zero bias) -> ReLU -> 2x2 average pool`` with 32, 64,
  128 and 256 channels (64 -> 32 -> 16 -> 8 -> 4 px); the weights are He-normal,
  drawn once from ``numpy.random.default_rng(SEED)`` and never trained (cached real
  features are keyed by a checksum of these weights too, see ``checksum``). The first
  stage's filters have their spatial mean removed per input channel, so they respond
  to edges, noise and texture rather than to flat colour (with plain random filters
  the colour of the whole image drowns out blur and noise);
- the feature vector (``DIM`` = 1008 numbers) is, for each stage, the spatial mean
  and standard deviation of every channel (960 numbers: colour, edge and texture
  statistics at four scales, the statistics random-filter texture models use), plus
  the image averaged to 4 x 4 pixels (48 numbers: coarse layout and colour).

Random convolutional features are not semantic: they see colours, edges, blur,
noise, textures and rough composition, and are good at telling blurry, noisy,
off-colour or collapsed samples from real ones, but they cannot tell a plausible
sushi from realistic textures in an implausible arrangement the way features of a
network trained on photos would. Numbers in this space are comparable only with
numbers in the same space (same ``FEATURE_SPACE``), on the same data, at the same
sample count; they are not FID and not comparable with published numbers (use
``--fid`` for that).
"""

from __future__ import annotations

FEATURE_SPACE = "gankit-randconv-v1"
SEED = 20240601
SIZE = 64
CHANNELS = (32, 64, 128, 256)
THUMBNAIL = 4
DIM = 2 * sum(CHANNELS) + 3 * THUMBNAIL * THUMBNAIL
BATCH = 128

_WEIGHTS = None


def weights():
    """The conv weights (one float32 tensor per stage), made once per process."""
    global _WEIGHTS
    if _WEIGHTS is None:
        import numpy as np
        import torch

        rng = np.random.default_rng(SEED)
        out, c_in = [], 3
        for i, c_out in enumerate(CHANNELS):
            w = rng.standard_normal((c_out, c_in, 3, 3)) * np.sqrt(2.0 / (c_in * 9))
            if i == 0:  # edges and texture, not flat colour (the thumbnail has colour)
                w -= w.mean(axis=(2, 3), keepdims=True)
            out.append(torch.from_numpy(w.astype(np.float32)))
            c_in = c_out
        _WEIGHTS = out
    return _WEIGHTS


def checksum() -> str:
    """A short hash of the weights: part of every cache key of this space."""
    import hashlib

    h = hashlib.sha256()
    for w in weights():
        h.update(w.numpy().tobytes())
    return h.hexdigest()[:12]


def prepare(images):
    """uint8 (N, C, H, W) -> float (N, 3, 64, 64) in [-1, 1]."""
    import torch
    import torch.nn.functional as F

    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(f"images need 1 or 3 channels, got {x.shape[1]}")
    if tuple(x.shape[-2:]) != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True,
                          align_corners=False)
    return (x / 127.5 - 1.0).clamp(-1, 1).to(torch.float32)


def _features(x, ws):
    import torch
    import torch.nn.functional as F

    feats = [F.adaptive_avg_pool2d(x, THUMBNAIL).flatten(1)]
    for w in ws:
        x = F.avg_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
        feats.append(x.mean(dim=(2, 3)))
        feats.append(x.std(dim=(2, 3), unbiased=False))
    return torch.cat(feats, 1)


def extract(images, device="cpu", progress=None):
    """Feature vectors (N, DIM) float32 on the CPU for uint8 images (N, C, H, W).

    ``progress(done, total)`` is called after each batch.
    """
    import torch

    if images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got {tuple(images.shape)}")
    ws = [w.to(device) for w in weights()]
    out = []
    n = images.shape[0]
    with torch.no_grad():
        for i in range(0, n, BATCH):
            x = prepare(images[i:i + BATCH].to(device))
            out.append(_features(x, ws).float().cpu())
            if progress:
                progress(min(i + BATCH, n), n)
    return torch.cat(out) if out else torch.empty(0, DIM)
