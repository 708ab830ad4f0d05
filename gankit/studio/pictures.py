"""Pictures for the page: uint8 tensors and Pillow images as PNG bytes and data URLs."""

from __future__ import annotations

import base64
import io


def png_bytes(u8_chw) -> bytes:
    """A uint8 (C, H, W) tensor as PNG bytes."""
    return pil_png_bytes(_pil(u8_chw))


def pil_png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pil(u8_chw, size: int | None = None):
    """A uint8 (C, H, W) tensor as a Pillow image, resized to ``size`` x ``size`` if asked."""
    from PIL import Image

    arr = u8_chw.permute(1, 2, 0).contiguous().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    if size and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img
