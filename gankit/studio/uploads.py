"""Uploaded pictures, decoded safely (translation inputs, canvas drawings, projections)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import GankitError
from ..files import atomic_write
from ..imageio import decode_image
from .validate import MAX_UPLOAD_PIXELS, UPLOAD_FORMATS, BadRequest


def decode_upload(data: bytes, channels: int, size: int | None = None):
    """Uploaded bytes -> a Pillow image (RGB or L), decoded only by
    :func:`gankit.imageio.decode_image` from a private temporary file; with ``size``
    resized and centre-cropped to ``size`` x ``size`` as training data is."""
    from PIL import Image, UnidentifiedImageError

    with tempfile.TemporaryDirectory(prefix="gankit-studio-") as tmp:
        path = Path(tmp) / "upload"
        atomic_write(path, lambda t: Path(t).write_bytes(data))

        try:  # the header only: refuse huge images before anything is decoded
            with Image.open(path, formats=UPLOAD_FORMATS) as probe:  # the five named formats
                w, h = probe.size
        except Image.DecompressionBombError:
            raise BadRequest(f"the uploaded image has more than {MAX_UPLOAD_PIXELS:,} pixels "
                             "(the limit)", 413) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise BadRequest("the upload is not a readable PNG, JPEG, WebP, BMP or GIF image",
                             415) from None
        if w * h > MAX_UPLOAD_PIXELS:
            raise BadRequest(f"the uploaded image has {w}x{h} pixels; the limit is "
                             f"{MAX_UPLOAD_PIXELS:,} pixels", 413)
        try:
            arr = decode_image(path, size, mode="L" if channels == 1 else "RGB")
        except GankitError as exc:
            raise BadRequest(str(exc).replace(str(path), "the uploaded image"), 400) from None
    return Image.fromarray(arr[..., 0] if channels == 1 else arr)
