"""What one image is (:class:`ImageFacts`, read with the decoder training uses), where a
folder's images are (its layout and domains), and which are exact or near duplicates."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SIZES = (32, 64, 128, 256)
REACH_SHARE = 0.9  # a size is recommended when this share of images reaches it
SMALL_DATA = 1_000  # below: the small-data note
AUTO_AUGMENT_BELOW = 5_000  # DiffAugment turns on automatically below this many images
NEAR_THRESHOLD = 3.0  # mean abs difference of mean-centred 16x16 gray thumbnails, 0..255
NEAR_HASH_BITS = 6  # average-hash bits (of 64) a candidate pair may differ in
NEAR_MAX_IMAGES = 30_000  # above: near-duplicate search skipped (quadratic)

# flip heuristic (documented in flip_verdict and docs/small-data.md)
TWO_TONE_SHARE = 0.8  # share of pixels in the outer fifths of an image's range
LOW_COLOUR = 24.0  # 95th percentile of (max - min) over RGB channels, 0..255
TEXT_LIKE_SHARE = 0.5  # share of text-like images for "unsafe"
TEXT_LIKE_SOME = 0.2  # share of text-like images for "uncertain"
MIRROR_UNSAFE = 1.25  # mirror ratio for "unsafe"
MIRROR_UNCERTAIN = 1.1  # mirror ratio for "uncertain"
MIRROR_MIN_IMAGES = 20
MIRROR_MAX_IMAGES = 2_000  # an even sample of this many for the mirror ratio
SKEW_LIMIT = 0.1  # |diagonal skew| for "uncertain"
SKEW_MIN_IMAGES = 30

CYCLEGAN_LAYOUTS = (("trainA", "trainB", "testA", "testB"), ("A", "B"))


@dataclass
class ImageFacts:
    """What :func:`inspect_image` learns from one readable image."""

    name: str  # path relative to the checked folder, with /
    width: int
    height: int
    mode: str  # the source file's Pillow mode (before gankit converts it)
    gray: bool  # one channel, or three equal channels
    pixel_hash: str
    ahash: bytes  # 8 bytes: 8x8 gray, one bit per pixel above the mean
    gray16: object  # float32 (256,): 16x16 gray thumbnail minus its mean
    colour8: object  # float32 (192,): 8x8 RGB thumbnail minus the gray mean
    mirror12: object  # float32 (2, 144): 12x12 gray thumbnail and its mirror, minus the mean
    two_tone: bool
    low_colour: bool
    skew_num: float  # sum of gx * gy over the gray thumbnail
    skew_den: float  # sum of |gx * gy|

    @property
    def text_like(self) -> bool:
        return self.two_tone and self.low_colour


def _gray_and_rgb(arr):
    """uint8 HWC (C = 1 or 3) -> (gray float HxW, rgb uint8 HxWx3)."""
    import numpy as np

    if arr.shape[2] == 1:
        g = arr[..., 0].astype(np.float32)
        return g, np.repeat(arr, 3, axis=2)
    rgb = arr[..., :3]
    g = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return g, rgb


def _resize(arr_u8, w: int, h: int, resample=None):
    import numpy as np
    from PIL import Image

    img = Image.fromarray(arr_u8[..., 0] if arr_u8.shape[2] == 1 else arr_u8)
    resample = Image.Resampling.BOX if resample is None else resample
    return np.asarray(img.resize((w, h), resample))


def image_facts(arr, name: str = "", mode: str = "RGB") -> ImageFacts:
    """Facts about one decoded uint8 HWC image (see the module docstring)."""
    import numpy as np

    h, w, c = arr.shape
    gray = c == 1 or bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{h}x{w}x{c}:".encode())
    digest.update(np.ascontiguousarray(arr).tobytes())

    g_full, rgb = _gray_and_rgb(arr)
    g_u8 = g_full.clip(0, 255).round().astype(np.uint8)[..., None]
    g8 = _resize(g_u8, 8, 8).astype(np.float32)
    ahash = np.packbits((g8 > g8.mean()).ravel()).tobytes()
    g16 = _resize(g_u8, 16, 16).astype(np.float32)
    g12 = _resize(g_u8, 12, 12).astype(np.float32)
    g12 -= g12.mean()
    c8 = _resize(rgb, 8, 8).astype(np.float32)

    # statistics on at most 64 px along the longer side (box-filtered down)
    scale = 64 / max(h, w)
    if scale < 1:
        small_arr = _resize(arr, max(1, round(w * scale)), max(1, round(h * scale)))
        g, rgb_s = _gray_and_rgb(small_arr.reshape(small_arr.shape[0], small_arr.shape[1], -1))
    else:
        g, rgb_s = g_full, rgb
    lo, hi = np.percentile(g, 1), np.percentile(g, 99)
    if hi - lo < 32:  # nearly flat: no strokes to speak of
        two_tone = False
    else:
        t = (g - lo) / (hi - lo)
        two_tone = float(((t < 0.2) | (t > 0.8)).mean()) >= TWO_TONE_SHARE
    rgb_f = rgb_s.astype(np.float32)
    # the colourful part counts, not the average (a small red object on black is colour)
    chroma = float(np.percentile(rgb_f.max(axis=2) - rgb_f.min(axis=2), 95))
    # central differences: no shared term, so pixel noise does not bias gx * gy
    gx = g[1:-1, 2:] - g[1:-1, :-2]
    gy = g[2:, 1:-1] - g[:-2, 1:-1]
    prod = gx * gy
    return ImageFacts(name=name, width=w, height=h, mode=mode, gray=gray,
                      pixel_hash=digest.hexdigest(), ahash=ahash,
                      gray16=(g16 - g16.mean()).ravel(), colour8=(c8 - g8.mean()).ravel(),
                      mirror12=np.stack([g12.ravel(), g12[:, ::-1].ravel()]),
                      two_tone=two_tone, low_colour=chroma < LOW_COLOUR,
                      skew_num=float(prod.sum()), skew_den=float(np.abs(prod).sum()))


def inspect_image(path, name: str = "") -> ImageFacts:
    """Decode one file with gankit's decoder and return its facts; raises GankitError
    (with the file and the reason) when it cannot be read."""
    from PIL import Image

    from ..imageio import decode_image  # PIL: only when an image is read

    arr = decode_image(path, mode="auto")  # raises GankitError naming the file
    try:
        with Image.open(path) as img:
            mode = img.mode
    except Exception:  # decoded fine; the header mode is only informative
        mode = "?"
    return image_facts(arr, name or Path(path).name, mode)


def find_layout(root: Path) -> tuple[str, dict[str, Path]]:
    """("cyclegan", {domain: folder}) for trainA/trainB(/testA/testB) or A/B folders,
    else ("flat", {"": root})."""
    for names in CYCLEGAN_LAYOUTS:
        a, b = names[0], names[1]
        if (root / a).is_dir() and (root / b).is_dir():
            return "cyclegan", {n: root / n for n in names if (root / n).is_dir()}
    return "flat", {"": root}


def _skipped_files(root: Path, extensions) -> Counter:
    """Visible files whose extension gankit does not read, counted by extension."""
    skipped = Counter()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            ext = os.path.splitext(f)[1].lower()
            if not f.startswith(".") and ext not in extensions:
                skipped[ext or "(none)"] += 1
    return skipped


# -- duplicates -----------------------------------------------------------------------


def _exact_groups(facts: list[ImageFacts]) -> list[list[int]]:
    by_hash: dict[str, list[int]] = {}
    for i, f in enumerate(facts):
        by_hash.setdefault(f.pixel_hash, []).append(i)
    return [g for g in by_hash.values() if len(g) > 1]


def _near_groups(facts: list[ImageFacts], candidates: list[int],
                 threshold: float = NEAR_THRESHOLD) -> list[list[int]]:
    """Groups (union-find) of near duplicates among ``facts[candidates]``: average
    hashes at most NEAR_HASH_BITS apart, then the thumbnail test of the module docstring."""
    import numpy as np

    n = len(candidates)
    if n < 2:
        return []
    hashes = np.frombuffer(b"".join(facts[i].ahash for i in candidates), np.uint8).reshape(n, 8)
    gray = np.stack([facts[i].gray16 for i in candidates])
    colour = np.stack([facts[i].colour8 for i in candidates])
    popcount = np.array([bin(v).count("1") for v in range(256)], np.uint8)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    block = max(1, 4_000_000 // (8 * n))
    for start in range(0, n, block):
        stop = min(n, start + block)
        dist = popcount[hashes[start:stop, None, :] ^ hashes[None, :, :]].sum(axis=2, dtype=np.int32)
        rows, cols = np.nonzero(dist <= NEAR_HASH_BITS)
        rows = rows + start
        keep = cols > rows
        rows, cols = rows[keep], cols[keep]
        for k in range(0, len(rows), 20_000):  # verify the candidate pairs in chunks
            r, c = rows[k:k + 20_000], cols[k:k + 20_000]
            ok = ((np.abs(gray[r] - gray[c]).mean(axis=1) <= threshold)
                  & (np.abs(colour[r] - colour[c]).mean(axis=1) <= 2 * threshold))
            for i, j in zip(r[ok].tolist(), c[ok].tolist()):
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(candidates[i])
    return [g for g in groups.values() if len(g) > 1]


def mirror_ratio(facts: list[ImageFacts]) -> float | None:
    """How far mirrored images lie from the folder, relative to how far images lie from
    each other: the median distance from each mirrored 12x12 thumbnail to its nearest
    original (itself included), over the median distance from each original to its
    nearest other original. Near 1 when mirror images look like the data (most photos);
    well above 1 when they do not (text, digits). None for fewer than 20 images."""
    import numpy as np

    n = len(facts)
    if n < MIRROR_MIN_IMAGES:
        return None
    pick = np.linspace(0, n - 1, min(n, MIRROR_MAX_IMAGES)).round().astype(int)
    both = np.stack([facts[i].mirror12 for i in pick]).astype(np.float64)
    orig, mirr = both[:, 0], both[:, 1]
    sq = (orig * orig).sum(1)

    def nearest(a, exclude_self):
        d = (a * a).sum(1)[:, None] + sq[None, :] - 2.0 * a @ orig.T
        if exclude_self:
            np.fill_diagonal(d, np.inf)
        return np.sqrt(np.clip(d.min(axis=1), 0, None))

    base = float(np.median(nearest(orig, True)))
    if base <= 1e-6:
        return None
    return float(np.median(nearest(mirr, False))) / base
