"""Checking a folder of training images before training on it (``gankit data check``).

:func:`check_folder` decodes every image with :func:`gankit.imageio.decode_image` (the
decoder training uses, which refuses broken files and decompression bombs with a
reason) and reports, as one JSON-ready dict:

* counts: image files, readable ones, unreadable ones with the reason, files skipped
  because their extension is not an image type gankit reads;
* sizes: min/median/max of width, height and the shorter side, the most common sizes,
  how many images reach 32/64/128/256 px without upscaling, and a recommended
  ``--image-size``: the largest of those that at least 90 % of the images reach;
* colour modes of the source files (RGB, L, P, RGBA, ...), and how many are gray;
* exact duplicates: the same decoded pixels (a BLAKE2 hash of them);
* near duplicates: resized, re-encoded or brightened copies. A 64-bit average hash
  (8x8 gray thumbnail, a bit per pixel above the mean) at most 6 bits apart picks the
  candidate pairs; a pair counts when its 16x16 gray thumbnails, each minus its own
  mean, differ by at most ``near_threshold`` (default 3 of 255) on average and its 8x8
  colour thumbnails (minus the gray mean) by at most twice that;
* whether random horizontal flips look safe (a heuristic, see :func:`flip_verdict`);
* the CycleGAN layout (``trainA``/``trainB`` with optional ``testA``/``testB``, or
  ``A``/``B``): images per domain;
* warnings and notes (small data: below 1,000 images gankit turns augmentation and the
  EMA generator on).
"""

from __future__ import annotations

import hashlib
import os
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import GankitError, UsageError

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

#: below this many images the projected model is the recommended one (docs/projected.md)
PROJECTED_BELOW = 10_000
#: the measured reason, in one line (README's first command, this project's 2-core CPU)
PROJECTED_REASON = ("its discriminator sees pretrained ImageNet features, so it needs far "
                    "fewer pictures and minutes: on 256 sushi pictures it reached the "
                    "quality DCGAN reaches in 18 minutes in {minutes} (docs/projected.md)")
PROJECTED_MINUTES = "5 minutes"


def recommend_model(n: int) -> tuple[str, str]:
    """The model to recommend for an unconditional image folder of ``n`` pictures, and
    the measured reason in one line."""
    if n < PROJECTED_BELOW:
        return "projected", PROJECTED_REASON.format(minutes=PROJECTED_MINUTES)
    return "dcgan", (f"with {n:,} pictures the plain DCGAN has enough data, and it is the "
                     "fastest per step")


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

    from .imageio import decode_image

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


# -- flips ----------------------------------------------------------------------------


def flip_verdict(facts: list[ImageFacts]) -> dict:
    """Whether random horizontal flips look safe, by a documented heuristic.

    * An image is *text-like* when it is two-tone (at least 80 % of its pixels lie in
      the outer fifths of its 1st..99th percentile range) and has little colour (the
      95th percentile of max-min over RGB below 24 of 255): digits, letters, line
      drawings, scanned text.
    * The *mirror ratio* (:func:`mirror_ratio`) compares mirrored images with the
      folder: near 1 when a mirrored image looks like other images (photos of objects,
      faces, scenes), well above 1 when it looks like nothing in the folder (a mirrored
      7 is not a 7).
    * The *diagonal skew* sums ``gx * gy`` (central differences) over every image,
      divided by the sum of ``|gx * gy|``. Mirroring flips its sign, so it is near 0
      when mirror images are as likely as the originals; slanted writing is not.

    **unsafe** when at least half the images are text-like or the mirror ratio is at
    least 1.25; **uncertain** when the mirror ratio is at least 1.1, at least a fifth
    of the images are text-like, or ``|skew| >= 0.1`` over 30 or more images;
    **safe** otherwise. Pass ``facts`` without exact duplicates.
    """
    n = len(facts)
    if n == 0:
        return {"verdict": "unknown", "text_like": 0.0, "mirror_ratio": None,
                "diagonal_skew": 0.0, "reason": "no readable images", "advice": "",
                "heuristic": True}
    text_like = sum(f.text_like for f in facts) / n
    den = sum(f.skew_den for f in facts)
    skew = sum(f.skew_num for f in facts) / den if den > 0 else 0.0
    mirror = mirror_ratio(facts)
    m = mirror if mirror is not None else 1.0
    signs = []
    if text_like >= TEXT_LIKE_SOME:
        signs.append(f"{text_like:.0%} of the images look like text or digits (two-tone, little colour)")
    if m >= MIRROR_UNCERTAIN:
        signs.append(f"mirrored images look unlike the others (mirror ratio {m:.2f})")
    if n >= SKEW_MIN_IMAGES and abs(skew) >= SKEW_LIMIT:
        signs.append(f"edges lean one way (diagonal skew {skew:+.2f}), as slanted writing does")
    if text_like >= TEXT_LIKE_SHARE or m >= MIRROR_UNSAFE:
        verdict = "unsafe"
    elif signs:
        verdict = "uncertain"
    else:
        verdict = "safe"
    if signs:
        reason = "; ".join(signs)
    else:
        mtxt = f"mirror ratio {m:.2f}, " if mirror is not None else ""
        reason = (f"{text_like:.0%} text-like images, {mtxt}diagonal skew {skew:+.2f}: "
                  "nothing suggests mirrored images change their meaning")
    advice = {"unsafe": "train with --no-flip",
              "uncertain": "look at a few mirrored images and train with --no-flip if they "
                           "mean something else",
              "safe": "flips stay on (the default); pass --no-flip to gankit train if "
                      "mirrored images do change their meaning"}[verdict]
    return {"verdict": verdict, "text_like": round(text_like, 4),
            "mirror_ratio": None if mirror is None else round(mirror, 4),
            "diagonal_skew": round(skew, 4), "reason": reason, "advice": advice,
            "heuristic": True}


# -- the whole folder -----------------------------------------------------------------


def flip_verdict_for_samples(samples, max_images: int = 256) -> dict:
    """:func:`flip_verdict` for decoded uint8 (N, C, H, W) samples in memory (evenly
    spaced, at most ``max_images``): what ``gankit train`` asks of an image folder."""
    import numpy as np

    n = int(samples.shape[0])
    pick = np.linspace(0, n - 1, min(n, max_images)).round().astype(int) if n else []
    facts = []
    for i in pick:
        arr = samples[int(i)].permute(1, 2, 0).contiguous().cpu().numpy()
        facts.append(image_facts(arr, str(int(i))))
    return flip_verdict(facts)


def recommended_size(short_sides: list[int]) -> tuple[int, dict[int, int]]:
    """The largest of SIZES that at least 90 % of the images reach (their shorter side
    at least that big), else the smallest; plus how many reach each size."""
    reach = {s: sum(1 for v in short_sides if v >= s) for s in SIZES}
    n = len(short_sides)
    for s in sorted(SIZES, reverse=True):
        if n and reach[s] >= REACH_SHARE * n:
            return s, reach
    return SIZES[0], reach


def _spread(values: list[int]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def check_folder(root, *, near_threshold: float = NEAR_THRESHOLD, progress=None) -> dict:
    """Check every image under ``root`` and return the report dict (see the module
    docstring). ``progress(done, total)`` is called after each file.

    Raises UsageError when ``root`` is not a folder, GankitError when it holds no image
    files. A folder whose images are all unreadable still gets a report.
    """
    from .imageio import IMAGE_EXTENSIONS, list_images

    root = Path(root)
    if not root.exists():
        raise UsageError(f"{root}: no such folder (gankit data check takes a folder of images)")
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder (gankit data check takes a folder of images)")
    if not 0 <= near_threshold <= 255:
        raise UsageError(f"--near-threshold {near_threshold}: must be between 0 and 255")
    layout, domains = find_layout(root)
    files: list[tuple[str, Path]] = []
    for domain, folder in domains.items():
        files += [(domain, p) for p in list_images(folder)]
    skipped = Counter()
    for folder in domains.values():
        skipped += _skipped_files(folder, IMAGE_EXTENSIONS)
    if not files:
        where = f"{root} (in {', '.join(domains)})" if layout == "cyclegan" else str(root)
        raise GankitError(f"{where}: no image files found (accepted extensions: "
                          f"{', '.join(IMAGE_EXTENSIONS)})")

    facts: list[ImageFacts] = []
    unreadable = []
    per_domain = {d: {"files": 0, "readable": 0} for d in domains} if layout == "cyclegan" else {}
    for k, (domain, path) in enumerate(files):
        name = path.relative_to(root).as_posix()
        if per_domain:
            per_domain[domain]["files"] += 1
        try:
            facts.append(inspect_image(path, name))
            if per_domain:
                per_domain[domain]["readable"] += 1
        except GankitError as exc:
            reason = str(exc)
            prefix = f"{path}: "
            unreadable.append({"file": name, "reason": reason[len(prefix):] if reason.startswith(prefix) else reason})
        if progress is not None:
            progress(k + 1, len(files))

    n = len(facts)
    report: dict = {"folder": str(root), "layout": layout, "files": len(files), "readable": n,
                    "unreadable": unreadable,
                    "skipped": dict(sorted(skipped.items())), "domains": per_domain or None}
    warnings: list[str] = []
    notes: list[str] = []
    if unreadable:
        warnings.append(f"{len(unreadable)} of {len(files)} image files cannot be read; training "
                        f"skips them (first: {unreadable[0]['file']}: {unreadable[0]['reason']})")
    if skipped:
        kinds = ", ".join(f"{ext} ({c})" for ext, c in skipped.most_common(5))
        notes.append(f"{sum(skipped.values())} file(s) are not images gankit reads and are "
                     f"ignored: {kinds}")

    if n:
        widths = [f.width for f in facts]
        heights = [f.height for f in facts]
        shorts = [min(f.width, f.height) for f in facts]
        common = Counter(f"{f.width}x{f.height}" for f in facts).most_common(5)
        size, reach = recommended_size(shorts)
        report["sizes"] = {"width": _spread(widths), "height": _spread(heights),
                           "short_side": _spread(shorts),
                           "most_common": [{"size": s, "count": c} for s, c in common],
                           "reach": {str(s): reach[s] for s in SIZES}}
        report["recommended_image_size"] = size
        if reach[size] < REACH_SHARE * n:
            warnings.append(f"most images are smaller than {SIZES[0]} px on their shorter side "
                            f"(median {statistics.median(shorts):g}); they will be upscaled")
        elif reach[size] < n:
            warnings.append(f"{n - reach[size]} image(s) are smaller than {size} px and will be "
                            f"upscaled to --image-size {size}")
        wide = sum(1 for f in facts if max(f.width, f.height) > 2 * min(f.width, f.height))
        if wide:
            warnings.append(f"{wide} image(s) are more than twice as long as wide; the centre "
                            "square crop loses over half of each")
        modes = Counter(f.mode for f in facts)
        report["modes"] = dict(modes.most_common())
        gray = sum(f.gray for f in facts)
        report["gray"] = gray
        if modes.keys() & {"RGBA", "LA", "PA", "RGBa", "La"}:
            notes.append("some images have transparency; gankit composites it on black")
        if gray == n:
            colour_files = sum(1 for f in facts if f.mode not in ("L", "1", "I", "I;16", "F", "LA"))
            if colour_files:
                notes.append(f"every image is gray, {colour_files} of them stored as colour: "
                             "gankit train --grayscale always trains on one channel")
            else:
                notes.append("every image is gray: gankit trains on one channel")
        elif gray:
            notes.append(f"{gray} of {n} images are gray; the rest are colour, so training "
                         "uses three channels")

        exact = _exact_groups(facts)
        in_exact = {i for g in exact for i in g[1:]}
        candidates = [i for i in range(n) if i not in in_exact]
        near_skipped = len(candidates) > NEAR_MAX_IMAGES
        near = [] if near_skipped else _near_groups(facts, candidates, near_threshold)
        exact_members = {g[0]: g for g in exact}
        report["exact_duplicates"] = [[facts[i].name for i in g] for g in exact]
        near_named = []
        for g in near:  # list each near group with the exact copies of its members
            members = [j for i in g for j in exact_members.get(i, [i])]
            near_named.append([facts[i].name for i in members])
        report["near_duplicates"] = near_named
        report["near_threshold"] = near_threshold
        if exact:
            extra = sum(len(g) - 1 for g in exact)
            warnings.append(f"{extra} file(s) are exact copies of other images ({len(exact)} "
                            "group(s)); copies weigh those images more in training")
        if near:
            warnings.append(f"{sum(len(g) for g in near_named)} images in {len(near)} group(s) "
                            f"are near duplicates (resized, re-encoded or lightly edited copies)")
        if near_skipped:
            notes.append(f"near-duplicate search skipped: more than {NEAR_MAX_IMAGES:,} images")

        report["flip"] = flip_verdict([facts[i] for i in candidates])
        if report["flip"]["verdict"] != "safe":
            warnings.append(f"horizontal flips look {report['flip']['verdict']}: "
                            f"{report['flip']['reason']}; {report['flip']['advice']}")

        unique = n - len(in_exact)
        if unique and not per_domain:
            model, why = recommend_model(unique)
            report["recommended_model"] = model
            if model != "dcgan":
                notes.append(f"recommended: gankit train {model} (pip install "
                             f"\"gankit[{model}]\"): {why}")
        if unique < SMALL_DATA:
            notes.append(f"small data set ({unique:,} distinct images): gankit turns augmentation "
                         "and EMA on for small folders")
        elif unique < AUTO_AUGMENT_BELOW:
            notes.append(f"{unique:,} distinct images: below {AUTO_AUGMENT_BELOW:,} gankit turns "
                         "DiffAugment augmentation on automatically")
    if per_domain:
        counts = {d: v["readable"] for d, v in per_domain.items()}
        for d, c in counts.items():
            if c == 0:
                warnings.append(f"CycleGAN domain {d} has no readable images")
        train = [counts[d] for d in list(domains)[:2]]
        if min(train) > 0 and max(train) > 10 * min(train):
            warnings.append(f"CycleGAN domains are unbalanced ({list(domains)[0]}: {train[0]}, "
                            f"{list(domains)[1]}: {train[1]}); the smaller one is seen "
                            "far more often per image")
    report["warnings"] = warnings
    report["notes"] = notes
    return report
