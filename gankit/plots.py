"""Scatter plots of 2-D samples, drawn with numpy and Pillow (no matplotlib).

Used for vector data (``ring8``, ``grid25``): the training preview and ``gankit sample``
draw the generated points over the real data, with the mode centres marked.
"""

from __future__ import annotations

SIZE = 384
BACKGROUND = (255, 255, 255)
REAL = (200, 200, 200)
CENTER = (150, 150, 150)
FAKE = (31, 119, 180)
OUTSIDE = (214, 39, 40)  # samples beyond the plot, pinned to its border


def _array(x):
    import numpy as np

    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 2:
        raise ValueError(f"expected (N, 2) points, got shape {tuple(a.shape)}")
    return a[:, :2]


def plot_bounds(*point_sets, margin: float = 0.15) -> tuple[float, float, float]:
    """A square view (centre x, centre y, half width) around the finite points given."""
    import numpy as np

    pts = [p[np.isfinite(p).all(1)] for p in point_sets if p is not None and len(p)]
    pts = [p for p in pts if len(p)]
    if not pts:
        return 0.0, 0.0, 1.0
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    cx, cy = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 0.5) * (1 + margin)
    return float(cx), float(cy), half


def _stamp(img, xy, color, radius: int) -> None:
    """Set a filled disc of ``radius`` pixels at every (x, y) pixel position."""
    import numpy as np

    h, w = img.shape[:2]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius + radius:
                continue
            x, y = xy[:, 0] + dx, xy[:, 1] + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[y[ok], x[ok]] = np.asarray(color, dtype=np.uint8)


def scatter_array(samples, real=None, centers=None, size: int = SIZE, bounds=None):
    """uint8 (H, W, 3) numpy image: ``real`` in grey, ``centers`` as crosses, ``samples``
    in blue (red on the border when outside the view). The view is fitted to the real
    data (else the centres, else the samples), so frames of one run line up."""
    import numpy as np

    s, r = _array(samples), _array(real)
    c = _array(centers) if centers is not None and len(centers) else None
    if bounds is None:
        bounds = plot_bounds(r) if r is not None and len(r) else (
            plot_bounds(c) if c is not None else plot_bounds(s))
    cx, cy, half = bounds
    scale = (size - 1) / (2 * half)

    def to_px(p):
        x = (p[:, 0] - (cx - half)) * scale
        y = ((cy + half) - p[:, 1]) * scale  # y up
        return np.stack([x, y], 1)

    img = np.empty((size, size, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    # axes through the origin when it is in view, and a frame
    ox, oy = to_px(np.zeros((1, 2)))[0]
    if 0 <= ox < size:
        img[:, int(round(ox))] = (235, 235, 235)
    if 0 <= oy < size:
        img[int(round(oy)), :] = (235, 235, 235)
    if r is not None and len(r):
        if len(r) > 4000:  # a deterministic subset keeps the picture light
            r = r[:: len(r) // 4000 + 1]
        r = r[np.isfinite(r).all(1)]
        _stamp(img, np.round(to_px(r)).astype(np.int64), REAL, 1)
    if c is not None:
        pc = np.round(to_px(c)).astype(np.int64)
        for d in range(-5, 6):
            _stamp(img, pc + [d, 0], CENTER, 0)
            _stamp(img, pc + [0, d], CENTER, 0)
    if s is not None and len(s):
        s = s[np.isfinite(s).all(1)]
        px = to_px(s)
        dot = 2
        inside = ((px >= 0) & (px <= size - 1)).all(1)
        _stamp(img, np.round(px[inside]).astype(np.int64), FAKE, dot)
        if (~inside).any():
            _stamp(img, np.round(np.clip(px[~inside], 0, size - 1)).astype(np.int64), OUTSIDE,
                   dot)
    img[0, :] = img[-1, :] = img[:, 0] = img[:, -1] = (120, 120, 120)
    return img


def scatter_image(samples, real=None, centers=None, size: int = SIZE):
    """The scatter plot as a uint8 (1, 3, H, W) torch tensor (one image for a grid)."""
    import torch

    arr = scatter_array(samples, real, centers, size=size)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()
