"""MNIST-like digits drawn procedurally: white strokes on black, 20x20 box in 28x28.

Each digit is a few strokes in a unit box; every sample gets its own slant, rotation,
size, position, stroke width and wobble, drawn at 4x and downsampled (anti-aliased gray
edges, as in MNIST). Seeded: the same (n, size, seed) gives the same images.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4


def _arc(cx, cy, rx, ry, a0, a1, n=16):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


# strokes per digit, in a unit box with y pointing down
STROKES = {
    0: [_arc(0.5, 0.5, 0.27, 0.4, 0, 360, 28)],
    1: [[(0.36, 0.26), (0.54, 0.1), (0.54, 0.9)]],
    2: [_arc(0.5, 0.32, 0.25, 0.22, 190, 390) + [(0.22, 0.9), (0.8, 0.9)]],
    3: [_arc(0.48, 0.3, 0.24, 0.2, 200, 450), _arc(0.48, 0.7, 0.27, 0.2, 270, 520)],
    4: [[(0.62, 0.9), (0.62, 0.1), (0.18, 0.64), (0.82, 0.64)]],
    5: [[(0.75, 0.1), (0.32, 0.1), (0.3, 0.46)], _arc(0.5, 0.65, 0.27, 0.25, 230, 520)],
    6: [[(0.68, 0.12), (0.45, 0.3), (0.3, 0.6)] + _arc(0.5, 0.7, 0.22, 0.2, 180, 540, 24)],
    7: [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.9)]],
    8: [_arc(0.5, 0.3, 0.2, 0.19, 0, 360, 20), _arc(0.5, 0.7, 0.25, 0.2, 0, 360, 24)],
    9: [_arc(0.5, 0.32, 0.23, 0.2, 0, 360, 20), [(0.73, 0.32), (0.68, 0.9)]],
}


def render_digit(digit: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 (size, size) image of ``digit``."""
    big = size * SUPERSAMPLE
    angle = math.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.25, 0.25)
    sx, sy = rng.uniform(0.7, 1.0), rng.uniform(0.85, 1.0)
    tx, ty = rng.uniform(-0.07, 0.07, size=2)
    width = rng.uniform(0.075, 0.13) * 20 / 28 * big
    cos, sin = math.cos(angle), math.sin(angle)
    box = 20 / 28  # MNIST: the digit fits a 20x20 box centred in 28x28

    def place(x, y):
        x, y = (x - 0.5) * sx, (y - 0.5) * sy
        x = x - shear * y
        x, y = cos * x - sin * y, sin * x + cos * y
        return ((0.5 + (x + tx) * box) * big, (0.5 + (y + ty) * box) * big)

    img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(img)
    for stroke in STROKES[digit]:
        pts = np.asarray(stroke) + rng.normal(0, 0.012, size=(len(stroke), 2))
        xy = [place(x, y) for x, y in pts]
        draw.line(xy, fill=255, width=max(1, round(width)), joint="curve")
        r = width / 2  # round caps
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)


def render_digits(n: int, size: int = 28, seed: int = 0):
    """``n`` digits (each of 0-9 about equally often): uint8 (n, size, size) and labels."""
    if n < 1 or size < 8:
        raise ValueError("need n >= 1 and size >= 8")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    out = np.empty((n, size, size), dtype=np.uint8)
    for i, d in enumerate(labels):
        out[i] = render_digit(int(d), size, rng)
    return out, labels
