"""Reading image files robustly: one decoder for training data and for ``gankit translate``.

:func:`decode_image` turns one image file into a uint8 HWC array. It composites
transparency on black (as the sushi article cut its photos out on black), scales 16-bit
images to 8 bit, honours EXIF orientation, takes the first frame of animations, and
decodes huge images with bounded memory (JPEG draft mode, then ``reduce`` before the
LANCZOS resize and centre crop). Unreadable files raise :class:`gankit.GankitError`
naming the file. Part of the public API for plugins.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import console
from .errors import GankitError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

MAX_PIXELS = 200_000_000  # refuse larger images (decompression bombs); 10000x10000 is fine
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError,
                 KeyError, ZeroDivisionError, Image.DecompressionBombError)


_limit_lock = threading.Lock()
_limit_users = 0
_saved_limit: int | None = None


@contextlib.contextmanager
def _raised_pixel_limit():
    """Raise Pillow's decompression-bomb limit to MAX_PIXELS while our decodes run.

    Pillow's limit is a module global, so this is reference-counted across threads:
    the first decode raises it, the last one restores the caller's value. Our own
    check in decode_image keeps the bound; a user-disabled limit (None) stays None.
    """
    global _limit_users, _saved_limit
    with _limit_lock:
        if _limit_users == 0:
            _saved_limit = Image.MAX_IMAGE_PIXELS
            if _saved_limit is not None:
                Image.MAX_IMAGE_PIXELS = max(_saved_limit, MAX_PIXELS)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                Image.MAX_IMAGE_PIXELS = _saved_limit


def _exif_transpose(img: Image.Image) -> Image.Image:
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # malformed EXIF must not make a good image unreadable
        return img
    return ImageOps.exif_transpose(img) if orientation in range(2, 9) else img


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Bring any Pillow mode to one of L, LA, RGB, RGBA, I (16-bit range) or F."""
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return img
    if mode.startswith("I;16"):
        return img.convert("I")  # Pillow cannot reduce/resize I;16 directly
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        palette = np.asarray(img.getpalette("RGB") or [0, 0, 0]).reshape(-1, 3)
        gray = bool((palette == palette[:, :1]).all())
        alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if alpha else "RGB")
        return img.convert("LA" if alpha else "L") if gray else img
    if mode == "RGBa":
        return img.convert("RGBA")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def _crop_resize(img: Image.Image, size: int) -> Image.Image:
    """Centre square crop, then LANCZOS to size x size (reduce() first when shrinking)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    box = (left, top, left + side, top + side)
    if side == size:
        return img if w == h else img.crop(box)
    return img.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _to_uint8(img: Image.Image) -> np.ndarray:
    """HWC uint8 array; alpha is composited on black (colour * alpha / 255)."""
    arr = np.asarray(img)
    if img.mode == "I":  # 16-bit sources: 0..65535 -> 0..255, rounded
        arr = ((np.clip(arr, 0, 65535) + 128) // 257).astype(np.uint8)
    elif img.mode == "F":
        arr = np.clip(np.rint(np.nan_to_num(arr)), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if img.mode in ("LA", "RGBA"):
        alpha = arr[..., -1:].astype(np.uint16)
        arr = ((arr[..., :-1] * alpha + 127) // 255).astype(np.uint8)
    return arr


def error_reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def decode_image(path, size: int | None = None, mode: str = "RGB") -> np.ndarray:
    """Decode one image file to a uint8 (H, W, C) array.

    ``mode`` is "RGB" (C=3), "L" (C=1) or "auto" (C=1 for grayscale sources, else 3).
    With ``size`` the shorter side is resized to ``size`` and the centre cropped to a
    square; with None the native size is kept. Raises GankitError for unreadable files.
    """
    if mode not in ("RGB", "L", "auto"):
        raise ValueError(f"mode must be 'RGB', 'L' or 'auto', not {mode!r}")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive integer or None, not {size!r}")
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise GankitError(f"{path}: cannot read image (empty file)")
        with _raised_pixel_limit(), Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise GankitError(f"{path}: cannot read image ({w}x{h} pixels is over the limit "
                                  f"of {MAX_PIXELS:,}; possible decompression bomb)")
            if size is not None:  # JPEG: decode at 1/2, 1/4 or 1/8 scale, never below size
                img.draft("L" if mode == "L" else None, (size, size))
            img.load()  # raises on truncated data (LOAD_TRUNCATED_IMAGES stays off)
            img = _normalise_mode(_exif_transpose(img))
            if size is not None:
                img = _crop_resize(img, size)
            arr = _to_uint8(img)
    except DECODE_ERRORS as exc:
        raise GankitError(f"{path}: cannot read image ({error_reason(exc)})") from None
    if mode == "RGB" and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif mode == "L" and arr.shape[2] == 3:
        arr = np.asarray(Image.fromarray(arr).convert("L"))[..., None]
    return np.require(arr, np.uint8, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])


def list_images(root, extensions=IMAGE_EXTENSIONS, warn=None) -> list[Path]:
    """Image files under ``root`` (recursive, sorted), skipping hidden files and dirs.

    A subfolder that cannot be read (no permission, an I/O error) is skipped with one
    warning naming it (``warn``, default :func:`gankit.console.warn`); a ``root`` that
    exists but cannot be read raises GankitError; a missing one gives no files."""
    root_s = os.fspath(root)
    unreadable: list[OSError] = []

    def onerror(exc: OSError) -> None:
        if os.path.abspath(exc.filename or root_s) == os.path.abspath(root_s):
            if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                return  # no folder, no images: the caller says so
            raise GankitError(f"{root_s}: cannot read this folder ({error_reason(exc)})")
        unreadable.append(exc)

    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath, f) for f in filenames
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in extensions]
    if unreadable:
        warn = warn or console.warn
        names = ", ".join(f"{e.filename} ({error_reason(e)})" for e in unreadable[:3])
        warn(f"skipped {len(unreadable)} unreadable folder(s) under {root_s}: {names}"
             + (" ..." if len(unreadable) > 3 else ""))
    return sorted(found)
