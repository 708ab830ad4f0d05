"""Pictures: tensors to uint8, sample grids and GIFs, written atomically."""

from __future__ import annotations

import math
from pathlib import Path

from .bounds import parse_grid
from .files import atomic_write


def to_uint8(x):
    """Float images in [-1, 1] (N, C, H, W) -> uint8 on the CPU."""
    import torch

    x = x.detach().float().cpu()
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def grid_shape(n: int, grid: str | None = None) -> tuple[int, int]:
    """Columns and rows for ``n`` images; ``grid`` like ``"10x10"`` (columns x rows)."""
    if grid:
        return parse_grid(grid)
    cols = max(1, math.ceil(math.sqrt(n)))
    return cols, math.ceil(n / cols)


def make_grid_uint8(images, nrow: int, padding: int = 2):
    """uint8 (N, C, H, W) -> uint8 (C, H', W') grid, laid out exactly as torchvision's
    ``make_grid`` (black padding, grey images as RGB, one image unpadded) but as one
    reshape instead of a copy per image: 1000 samples take ~0.05 s instead of ~1.3 s."""
    import math

    x = images.unsqueeze(0) if images.dim() == 3 else images
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, c, h, w = x.shape
    if n == 1:
        return x[0]
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    th, tw = h + padding, w + padding
    tiles = x.new_zeros((rows * cols, c, th, tw))
    tiles[:n, :, padding:, padding:] = x
    grid = x.new_zeros((c, rows * th + padding, cols * tw + padding))
    grid[:, :rows * th, :cols * tw] = (tiles.view(rows, cols, c, th, tw).permute(2, 0, 3, 1, 4)
                                       .reshape(c, rows * th, cols * tw))
    return grid


def save_png(array_chw, path: Path) -> None:
    """Write a uint8 (C, H, W) tensor as PNG, atomically."""
    from PIL import Image

    arr = array_chw.permute(1, 2, 0).contiguous().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    # big grids (gankit sample -n 1000): zlib level 1 encodes ~3x faster, ~12% larger
    level = 1 if arr.size > 3_000_000 else 6
    atomic_write(Path(path), lambda tmp: img.save(tmp, format="PNG", compress_level=level))


def save_grid(images_u8, path: Path, nrow: int | None = None) -> None:
    nrow = nrow or grid_shape(images_u8.shape[0])[0]
    save_png(make_grid_uint8(images_u8, nrow), path)


def save_gif(frames, path: Path, fps: float = 12, loop: int = 0) -> None:
    """Write PIL images (or uint8 HWC arrays) as an animated GIF with Pillow."""
    from PIL import Image

    frames = [f if isinstance(f, Image.Image) else Image.fromarray(f) for f in frames]
    if not frames:
        raise ValueError("no frames")
    duration = max(20, int(round(1000 / fps)))

    def write(tmp):
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration,
            loop=loop, optimize=False, disposal=1,
        )

    atomic_write(Path(path), write)


def side_by_side(a, b):
    """Two (C, H, W) images in [-1, 1] -> one uint8 PIL image: a | b, 2 px apart."""
    import torch
    from PIL import Image

    pad = torch.full((a.shape[0], a.shape[1], 2), -1.0)
    u8 = to_uint8(torch.cat([a, pad, b], dim=2)[None])[0].permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(u8[..., 0] if u8.shape[2] == 1 else u8)
