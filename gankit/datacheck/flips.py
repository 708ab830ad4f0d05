"""Whether random horizontal flips look safe for a set of images: a documented
heuristic (:func:`flip_verdict`) on their facts or on decoded samples."""

from __future__ import annotations

from .facts import (MIRROR_UNCERTAIN, MIRROR_UNSAFE, SKEW_LIMIT, SKEW_MIN_IMAGES,
                    TEXT_LIKE_SHARE, TEXT_LIKE_SOME, ImageFacts, image_facts, mirror_ratio)

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
