"""Procedurally drawn nigiri sushi: gankit's built-in demo data set.

A stand-in for the "SushiGAN" photo set (253 photos of nigiri cut out on black,
96x96 PNGs), drawn with numpy and Pillow so nothing has to be downloaded.

Each image shows one nigiri, or sometimes a pair, on a pure black background:
an off-white rice block with grain texture and a topping lying over it
(``TOPPINGS``).  Size, rotation, position and lighting vary; the layout stays
simple enough for a small GAN to learn in a few thousand steps.  Scenes are
drawn at 2-4x resolution (a canvas of about 288 px) and downsampled with
LANCZOS for antialiasing; 256 images of 96x96 take about 1.6 s on one core.

Two styles share the same scenes: ``"day"`` (neutral light) and ``"dusk"``
(warm orange/purple tint, darker and lower in contrast), a second domain for
unpaired image-to-image translation (CycleGAN).

Everything is deterministic: image ``i`` depends only on ``(seed, i, size,
style)``, so ``render_sushi(10)[:5]`` equals ``render_sushi(5)``, and the
geometry of a scene does not depend on ``style`` (nor, up to resolution, on
``size``).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["STYLES", "TOPPINGS", "render_sushi", "sushi_labels"]

STYLES = ("day", "dusk")
TOPPINGS = ("salmon", "tuna", "tamago", "shrimp", "eel")

_SALT = 0x5057_1  # separates this generator's streams from other users of `seed`
_NORI = (24, 30, 24)


def _scene(seed: int, i: int) -> dict:
    """Draw every random choice of image ``i`` in relative units (canvas = 1)."""
    rng = np.random.default_rng([_SALT, seed, i])
    topping = TOPPINGS[int(rng.integers(len(TOPPINGS)))]  # first draw: see sushi_labels
    pair = bool(rng.random() < 0.3)
    sc = {
        "topping": topping,
        "pair": pair,
        "length": rng.uniform(0.48, 0.58) if pair else rng.uniform(0.62, 0.80),
        "aspect": rng.uniform(0.40, 0.48),            # rice height / length
        "angle": rng.uniform(-30.0, 30.0),            # degrees, counter-clockwise
        "mirror": bool(rng.random() < 0.5),
        "shift": rng.uniform(-0.05, 0.05, 2),         # scene centre offset
        "stagger": rng.uniform(-0.08, 0.08),          # pair: along-axis offset
        "brightness": rng.uniform(0.85, 1.05),
        "light": (rng.uniform(0.0, 0.35), rng.uniform(0.0, 2 * math.pi)),
        "texture_seed": int(rng.integers(2**31)),
    }
    # shrink the scene if its rotated bounding box would leave the frame
    L = 1.05 * sc["length"]
    hw = (0.66 if topping == "shrimp" else 0.59) * L + (abs(sc["stagger"]) if pair else 0.0)
    hh = sc["aspect"] * L * (1.17 if pair else 0.55)
    c, s = abs(math.cos(math.radians(sc["angle"]))), abs(math.sin(math.radians(sc["angle"])))
    reach = max(hw * c + hh * s, hw * s + hh * c) + float(np.hypot(*sc["shift"]))
    sc["length"] *= min(1.0, 0.47 / reach)
    return sc


def sushi_labels(n: int = 256, seed: int = 0) -> list[str]:
    """The topping name of each image of ``render_sushi(n, seed=seed)``, in order."""
    return [TOPPINGS[int(np.random.default_rng([_SALT, seed, i]).integers(len(TOPPINGS)))]
            for i in range(n)]


def _shape(cx, cy, a, b, p=3.0, bend=0.0, taper=0.0, n=40):
    """Polygon of a superellipse (half-axes a, b; squarer as p grows).

    ``bend`` lowers both ends (a slice draped over the rice), ``taper`` narrows
    the +x end.
    """
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = a * np.sign(c) * np.abs(c) ** (2 / p)
    y = b * np.sign(s) * np.abs(s) ** (2 / p)
    y = y * (1 - taper * x / a) + bend * b * (x / a) ** 2
    return [(float(u), float(v)) for u, v in zip(cx + x, cy + y)]


def _mask(size, poly):
    m = Image.new("L", size, 0)
    ImageDraw.Draw(m).polygon(poly, fill=255)
    return m


def _jitter(rng, rgb, amount=12):
    return tuple(int(np.clip(c + d, 0, 255)) for c, d in zip(rgb, rng.integers(-amount, amount + 1, 3)))


def _shade(tex: Image.Image, top: float, bottom: float, lo: float, hi: float = 1.0) -> Image.Image:
    """Darken ``tex`` linearly from ``hi`` at row ``top`` to ``lo`` at row ``bottom``."""
    rows = np.arange(tex.height, dtype=np.float32)
    f = np.clip(hi + (lo - hi) * (rows - top) / max(bottom - top, 1.0), lo, hi)
    ramp = Image.fromarray(np.repeat(np.rint(255 * f).astype(np.uint8)[:, None], tex.width, axis=1))
    return Image.composite(tex, Image.new("RGB", tex.size, 0), ramp)


def _stripes(draw, rng, x0, x1, y0, y1, count, slant, width, colours):
    """Roughly parallel bands across the box, slanted by ``slant`` (dx per dy)."""
    h = y1 - y0
    xs = np.linspace(x0 - abs(slant) * h, x1 + abs(slant) * h, count)
    xs = xs + rng.uniform(-0.3, 0.3, count) * (xs[1] - xs[0])
    widths = width * rng.uniform(0.6, 1.4, count)
    for x, w, k in zip(xs, widths, rng.integers(len(colours), size=count)):
        draw.line([(x, y0), (x + slant * h, y1)], fill=colours[k], width=max(1, round(w)))


def _draw_rice(img, rng, cx, cy, L, H):
    poly = _shape(cx, cy, L / 2, H / 2, p=3.2, bend=0.08)
    tex = Image.new("RGB", img.size, _jitter(rng, (206, 202, 190), 6))
    d = ImageDraw.Draw(tex)
    n = 110  # rice grains: small rotated ellipses (8-gons) in slightly varying whites
    gx = cx + rng.uniform(-0.52, 0.52, (n, 1)) * L
    gy = cy + rng.uniform(-0.55, 0.55, (n, 1)) * H
    ang = rng.uniform(0, math.pi, (n, 1))
    r = 0.05 * L * rng.uniform(0.8, 1.25, (n, 1))
    white = rng.integers(222, 253, n).tolist()
    t = np.linspace(0, 2 * math.pi, 8, endpoint=False)
    ex, ey = np.cos(t), 0.5 * np.sin(t)
    xs = gx + r * (np.cos(ang) * ex - np.sin(ang) * ey)
    ys = gy + r * (np.sin(ang) * ex + np.cos(ang) * ey)
    for pts, w in zip(np.stack([xs, ys], axis=2).tolist(), white):
        d.polygon([tuple(q) for q in pts], fill=(w, w - 2, w - 9), outline=(192, 188, 178))
    tex = _shade(tex, cy - H / 2, cy + H / 2, 0.82)
    img.paste(tex, (0, 0), _mask(img.size, poly))
    return poly


def _draw_topping(img, rng, kind, cx, cy, L, H, rice_poly):
    """Draw the topping over the rice; ``cy`` is the rice centre."""
    a, b, ty = 0.56 * L, 0.37 * H, cy - 0.24 * H
    p, bend, taper = {"tamago": (7.0, 0.12, 0.0), "shrimp": (2.6, 0.3, 0.35)}.get(kind, (3.0, 0.35, 0.0))
    poly = _shape(cx, ty, a, b, p=p, bend=bend, taper=taper)
    mask = _mask(img.size, poly)
    x0, x1, y0, y1 = cx - a, cx + a, ty - b, ty + b + bend * b

    # soft contact shadow of the slice on the rice
    shadow = _mask(img.size, [(x, y + 0.10 * H) for x, y in poly])
    img.paste((0, 0, 0), (0, 0), shadow.point(lambda v: v * 2 // 5))

    if kind == "shrimp":  # tail fan beyond the narrow end, drawn under the body
        tail = [(cx + 0.92 * a, ty - 0.05 * b), (cx + 1.22 * a, ty - 1.0 * b),
                (cx + 1.34 * a, ty - 0.15 * b), (cx + 1.24 * a, ty + 0.75 * b)]
        tip = [(cx + 1.15 * a, ty - 0.75 * b), (cx + 1.22 * a, ty - 1.0 * b),
               (cx + 1.34 * a, ty - 0.15 * b), (cx + 1.24 * a, ty + 0.75 * b), (cx + 1.17 * a, ty + 0.55 * b)]
        d = ImageDraw.Draw(img)
        d.polygon(tail, fill=_jitter(rng, (226, 78, 44)))
        d.polygon(tip, fill=_jitter(rng, (150, 36, 28)))

    if kind == "salmon":
        tex = Image.new("RGB", img.size, _jitter(rng, (244, 118, 64)))
        fat = [(255, 196, 160), (252, 178, 136)]  # light diagonal fat lines
        _stripes(ImageDraw.Draw(tex), rng, x0, x1, y0, y1, 9, 0.7, 0.035 * L, fat)
        lo = 0.72
    elif kind == "tuna":
        tex = Image.new("RGB", img.size, _jitter(rng, (176, 24, 40)))
        _stripes(ImageDraw.Draw(tex), rng, x0, x1, y0, y1, 6, 0.4, 0.02 * L, [(190, 38, 52)])
        lo = 0.55
    elif kind == "tamago":
        tex = Image.new("RGB", img.size, _jitter(rng, (252, 212, 84)))
        d = ImageDraw.Draw(tex)
        for k in range(4):  # omelette layers seen on the front face
            y = ty + b * (0.25 + 0.2 * k) + rng.uniform(-0.05, 0.05) * b
            d.line([(x0, y), (x1, y)], fill=(236, 186, 64), width=max(1, round(0.012 * L)))
        lo = 0.8
    elif kind == "shrimp":
        tex = Image.new("RGB", img.size, _jitter(rng, (250, 220, 200), 6))
        _stripes(ImageDraw.Draw(tex), rng, x0, x1, y0, y1, 8, 0.15, 0.055 * L,
                 [(240, 104, 64), (246, 128, 84)])
        lo = 0.8
    else:  # eel: dark glazed with a glossy streak and grill marks
        tex = Image.new("RGB", img.size, _jitter(rng, (100, 52, 26), 8))
        d = ImageDraw.Draw(tex)
        _stripes(d, rng, x0, x1, y0, y1, 7, -0.2, 0.02 * L, [(66, 32, 16)])
        for k, col in enumerate([(140, 80, 40), (180, 116, 60), (226, 180, 130)]):
            s = 1.0 - 0.3 * k
            d.ellipse([cx - 0.8 * a * s, ty - 0.62 * b - 0.12 * b * s,
                       cx + 0.8 * a * s, ty - 0.62 * b + 0.12 * b * s], fill=col)
        lo = 0.6
    img.paste(_shade(tex, y0, y1, lo), (0, 0), mask)

    belt = {"tamago": 0.15, "eel": 0.07}.get(kind)
    if belt:  # a nori band wrapped around topping and rice
        bx = cx + rng.uniform(-0.06, 0.06) * L
        band = Image.new("L", img.size, 0)
        ImageDraw.Draw(band).rectangle([bx - belt * L / 2, 0, bx + belt * L / 2, img.height], fill=255)
        body = mask.copy()
        ImageDraw.Draw(body).polygon(rice_poly, fill=255)
        band.paste(0, (0, 0), body.point(lambda v: 255 - v))
        img.paste(_jitter(rng, _NORI, 6), (0, 0), band)


def _draw_scene(sc: dict, size: int) -> np.ndarray:
    """Render one scene at ``size`` px, return float32 HWC in [0, 255]."""
    ss = max(2, min(4, round(288 / size)))  # supersampling factor; canvas ~288 px
    C = size * ss
    rng = np.random.default_rng(sc["texture_seed"])
    img = Image.new("RGB", (C, C), 0)
    L = sc["length"] * C
    H = sc["aspect"] * L
    cx, cy = C / 2 + sc["shift"][0] * C, C / 2 + sc["shift"][1] * C
    if sc["topping"] == "shrimp":
        cx -= 0.095 * L  # centre body + tail, which sticks out at +x
    if sc["pair"]:
        dy, dx = 0.62 * H, sc["stagger"] * C
        pieces = [(cx - dx, cy - dy), (cx + dx, cy + dy)]  # back piece first
    else:
        pieces = [(cx, cy)]
    for px, py in pieces:
        scale = rng.uniform(0.95, 1.05)
        rice = _draw_rice(img, rng, px, py, L * scale, H * scale)
        _draw_topping(img, rng, sc["topping"], px, py, L * scale, H * scale, rice)
    if sc["mirror"]:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.rotate(sc["angle"], resample=Image.Resampling.BILINEAR, fillcolor=0)
    img = img.resize((size, size), Image.Resampling.LANCZOS)

    arr = np.asarray(img, dtype=np.float32)
    g, phi = sc["light"]  # directional light falloff across the frame
    u = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    ramp = 1 + g * (math.cos(phi) * u[None, :] + math.sin(phi) * u[:, None])
    return np.clip(arr * (sc["brightness"] * ramp)[..., None], 0, 255)


def _dusk(arr: np.ndarray, seed: int, i: int) -> np.ndarray:
    """Warm orange highlights, purple shadows, darker and flatter; black stays black-ish."""
    rng = np.random.default_rng([_SALT, seed, i, 1])
    x = arr / 255.0
    lum = x.mean(axis=-1, keepdims=True)
    x = 0.6 * x + 0.4 * lum                            # desaturate a little
    x = 0.74 * x ** 0.75                               # darker, lower contrast
    warm = np.array([1.0, 0.66, 0.42]) * rng.uniform(0.95, 1.05, 3)
    purple = np.array([0.66, 0.40, 0.98])
    t = np.clip(1.2 * lum - 0.1, 0, 1)
    x = x * (purple + (warm - purple) * t)
    size = arr.shape[0]
    v = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    x = x + (1 - v) * np.array([0.035, 0.01, 0.045])   # faint violet sky haze at the top
    return np.clip(x * 255.0, 0, 255)


def render_sushi(n: int = 256, size: int = 96, seed: int = 0, style: str = "day",
                 progress=None) -> np.ndarray:
    """Return uint8 array (n, size, size, 3), HWC RGB.

    Deterministic for (n, size, seed, style): image i depends only on
    (seed, i, size, style) so render_sushi(10)[:5] == render_sushi(5).
    ``seed`` must be a non-negative int; ``style`` is one of ``STYLES``.
    ``progress(done, n)`` is called after each picture (large sizes take minutes).
    """
    if style not in STYLES:
        raise ValueError(f"unknown sushi style {style!r}; choose from {', '.join(STYLES)}")
    if n < 0 or size < 8:
        raise ValueError(f"need n >= 0 and size >= 8, got n={n}, size={size}")
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        arr = _draw_scene(_scene(seed, i), size)
        if style == "dusk":
            arr = _dusk(arr, seed, i)
        out[i] = np.rint(arr).astype(np.uint8)
        if progress is not None:
            progress(i + 1, n)
    return out
