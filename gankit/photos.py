"""Pictures read as a model's training read them, for ``gankit project`` and ``gankit
direction fit --positive-images``: files and folders collected (bounded), decoded by
:func:`gankit.imageio.decode_image` (shorter side resized, centre square crop), grey or
colour matched to the run. Importing this module does not import torch."""

from __future__ import annotations

from pathlib import Path

from . import console
from .errors import GankitError, UsageError

#: the most pictures ``--max-images`` may ask for
MAX_IMAGES_LIMIT = 10_000

def collect_photos(inputs, flag: str, max_images: int) -> list[Path]:
    """Image files from files and folders (recursively, sorted), at most ``max_images``
    of them: a bigger folder is sampled evenly and gankit says so."""
    from .imageio import IMAGE_EXTENSIONS, list_images  # numpy: when a command runs

    if not 1 <= max_images <= MAX_IMAGES_LIMIT:
        raise UsageError(f"--max-images {max_images}: choose 1 to {MAX_IMAGES_LIMIT}")
    found: list[Path] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files = list_images(p, IMAGE_EXTENSIONS)
            if not files:
                raise GankitError(f"{flag} {arg}: no image files in this folder "
                                  f"({', '.join(IMAGE_EXTENSIONS)})")
            found += files
        elif p.is_file():
            found.append(p)
        else:
            raise GankitError(f"{flag} {arg}: no such file or folder")
    if len(found) > max_images:
        step = len(found) / max_images
        chosen = [found[int(i * step)] for i in range(max_images)]
        console.warn(f"{flag}: {len(found)} pictures, projecting {max_images} of them, evenly "
                     f"spread (--max-images {max_images}; projection takes seconds per picture)")
        found = chosen
    return found


def read_photos(paths, spec, *, flag: str, skip_bad: bool = False):
    """The photos as the model sees them: (N, C, S, S) in [-1, 1] and the paths read.

    Resized and cropped as training did; one warning each for resized, grey-to-colour
    and colour-to-grey photos. Unreadable files: an error naming the file, or with
    ``skip_bad`` one warning naming them and the rest go on."""
    import numpy as np
    import torch
    from PIL import Image

    from .imageio import decode_image  # numpy, Pillow: only when projecting

    size, channels = int(spec.size), int(spec.channels)
    arrays, kept, bad = [], [], []
    resized, to_rgb, to_grey = [], [], []
    for p in paths:
        try:
            arr = decode_image(p, size, mode="auto")
        except GankitError as exc:
            if not skip_bad:
                raise GankitError(f"{exc}; remove it or replace it with a PNG or JPEG") from None
            bad.append(str(exc))
            continue
        native = _native_size(p)
        if native != (size, size):
            resized.append(f"{native[0]}x{native[1]}" if native else "?")
        if arr.shape[2] == 1 and channels == 3:
            arr = np.repeat(arr, 3, axis=2)
            to_rgb.append(p)
        elif arr.shape[2] == 3 and channels == 1:
            arr = np.asarray(Image.fromarray(arr).convert("L"))[..., None]
            to_grey.append(p)
        arrays.append(arr)
        kept.append(Path(p))
    if bad:
        console.warn(f"{flag}: skipped {len(bad)} unreadable picture(s): {bad[0]}"
                     + (" ..." if len(bad) > 1 else ""))
    if not arrays:
        raise GankitError(f"{flag}: no readable pictures")
    if resized:
        sizes = sorted(set(resized))
        console.info(f"{len(resized)} picture(s) of another size ({', '.join(sizes[:3])}"
                     f"{' ...' if len(sizes) > 3 else ''}) resized as training did: shorter "
                     f"side to {size} px, centre square crop")
    if to_rgb:
        console.info(f"{len(to_rgb)} grey picture(s) repeated to RGB: the run makes colour "
                     "pictures")
    if to_grey:
        console.info(f"{len(to_grey)} colour picture(s) converted to grey: the run makes "
                     "grey pictures")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x.contiguous(), kept


def _native_size(path) -> tuple[int, int] | None:
    """A decodable picture's size from its header (None if the header says nothing)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # huge pictures: decode_image has bounded them
            with Image.open(path) as im:
                return im.size
    except Exception:  # noqa: BLE001 - the picture decoded; its size is only for a note
        return None
