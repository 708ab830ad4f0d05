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

:mod:`.facts` holds what one image is and the duplicate search, :mod:`.flips` the flip
heuristic, :mod:`.folder` the report of a whole folder.
"""

from __future__ import annotations

from .facts import (AUTO_AUGMENT_BELOW, CYCLEGAN_LAYOUTS, NEAR_MAX_IMAGES, NEAR_THRESHOLD,
                    REACH_SHARE, SIZES, SMALL_DATA, ImageFacts, find_layout, image_facts,
                    inspect_image, mirror_ratio)
from .flips import flip_verdict, flip_verdict_for_samples
from .folder import check_folder, recommend_model, recommended_size

__all__ = ["AUTO_AUGMENT_BELOW", "CYCLEGAN_LAYOUTS", "NEAR_MAX_IMAGES", "NEAR_THRESHOLD",
           "REACH_SHARE", "SIZES", "SMALL_DATA", "ImageFacts", "check_folder", "find_layout",
           "flip_verdict", "flip_verdict_for_samples", "image_facts", "inspect_image",
           "mirror_ratio", "recommend_model", "recommended_size"]
