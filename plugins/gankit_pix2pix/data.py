"""Paired data for pix2pix: the layouts, the edge maps, and one stacked tensor per pair.

Each pair is held as ONE uint8 image whose channels are the input's then the target's,
(N, 2C, L, L) at the load size L, so the trainer's batcher shuffles, draws and flips
both halves alike without knowing they are two images; the step crops both at the same
offsets and splits the channels. The held-out pairs (never trained on) travel in the
data's ``meta["pairs"]`` at the image size, for previews and ``gankit evaluate``.

Layouts (docs/pix2pix.md):

* aligned, as junyanz/pytorch-CycleGAN-and-pix2pix: ``--data ROOT`` whose images hold A
  and B side by side (width twice the height), in ``ROOT/train/`` with the held-out
  pairs from ``ROOT/val/`` (else ``ROOT/test/``), or directly in ``ROOT``;
* two folders whose files pair by name: ``--data A --data-b B``;
* derived: ``--pairs edges`` makes each picture's input its edge map (:func:`edge_map`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gankit import GankitError, UsageError
from gankit.imageio import decode_image, list_images

#: a few names in one error line
LISTED = 3
#: pairs kept out of training when the data has no val/ or test/ split: every k-th
DEFAULT_HELD_OUT = 0.1


def listed(names) -> str:
    names = list(names)
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return ", ".join(str(n) for n in names[:LISTED]) + more


def resize_u8(x, size: int):
    """uint8 (N, C, H, W) -> (N, C, size, size), antialiased bilinear (aspect not kept,
    as the reference's resize before the crop)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.contiguous()
    y = torch.nn.functional.interpolate(x.float(), size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


def _chw(arr):
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


# -- the edge operator -------------------------------------------------------------------------

#: the share of its strongest gradient an edge pixel needs (after thinning)
EDGE_THRESHOLD = 0.2


def _gauss(sigma: float = 1.0, radius: int = 2):
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(t * t) / (2 * sigma * sigma))
    return g / g.sum()


def edge_map(images, threshold: float = EDGE_THRESHOLD, chunk: int = 64):
    """Black lines on white from uint8 (N, C, H, W) pictures, a Canny-like operator in
    torch: luma, Gaussian blur (sigma 1), Sobel gradients, thinning by non-maximum
    suppression along the gradient's direction (rounded to 0, 45, 90, 135 degrees), and
    a line wherever the thinned magnitude reaches ``threshold`` of the picture's 99th
    percentile. Returns uint8 (N, C, H, W): 0 on lines, 255 elsewhere, every channel alike."""
    F = torch.nn.functional
    n, c, h, w = images.shape
    out = []
    g = _gauss()
    kx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    for i in range(0, n, chunk):
        x = images[i:i + chunk].float() / 255.0
        y = (x[:, :1] if c == 1 else (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]))
        y = F.pad(y, (2, 2, 2, 2), mode="replicate")
        y = F.conv2d(y, g.view(1, 1, 1, 5))
        y = F.conv2d(y, g.view(1, 1, 5, 1))
        yp = F.pad(y, (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(yp, kx.view(1, 1, 3, 3))
        gy = F.conv2d(yp, kx.t().contiguous().view(1, 1, 3, 3))
        mag = torch.sqrt(gx * gx + gy * gy)
        # the two neighbours along the gradient, for each of the four directions
        angle = torch.remainder(torch.atan2(gy, gx) * (180 / torch.pi), 180.0)
        sector = (torch.floor((angle + 22.5) / 45.0).long() % 4)
        mp = F.pad(mag, (1, 1, 1, 1))

        def at(dy, dx):
            return mp[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

        offsets = (((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1)))
        keep = torch.zeros_like(mag, dtype=torch.bool)
        for s, (p, q) in enumerate(offsets):
            keep |= (sector == s) & (mag >= at(*p)) & (mag >= at(*q))
        thin = mag * keep
        scale = torch.quantile(mag.flatten(1), 0.99, dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)
        lines = thin >= threshold * scale
        u8 = torch.where(lines, 0, 255).to(torch.uint8)
        out.append(u8.expand(-1, c, -1, -1))
    return torch.cat(out).contiguous()


# -- reading the layouts ------------------------------------------------------------------------


def _decode(path: Path):
    """(uint8 (H, W, C) array, None) or (None, reason) for an unreadable file."""
    try:
        return decode_image(path, None, mode="auto"), None
    except GankitError as exc:
        return None, str(exc)


def _report_skipped(skipped: list, root, warn) -> None:
    if skipped and warn:
        warn(f"skipped {len(skipped)} unreadable image file(s) in {root}: {listed(skipped)}")


def read_aligned(folder: Path, flag: str, load_size: int, warn=None, progress=None):
    """A folder of A|B images -> (A uint8 (N, C, L, L), B likewise, names)."""
    files = list_images(folder)
    if not files:
        raise GankitError(f"{flag} {folder}: no image files in this folder")
    a_list, b_list, names, skipped = [], [], [], []
    for k, f in enumerate(files):
        arr, why = _decode(f)
        if progress is not None:
            progress(k + 1, len(files))
        if arr is None:
            skipped.append(f.name)
            continue
        h, w = arr.shape[:2]
        if w != 2 * h:
            raise GankitError(
                f"{flag} {f}: {w}x{h} is not an aligned pair (the width must be twice the "
                "height: A on the left, B on the right); for two folders of pairs use "
                "--data A --data-b B, for a folder of pictures --pairs edges")
        t = _chw(arr)
        a_list.append(resize_u8(t[None, :, :, :h], load_size))
        b_list.append(resize_u8(t[None, :, :, h:], load_size))
        names.append(f.relative_to(folder).as_posix())
    _report_skipped(skipped, folder, warn)
    if not names:
        raise GankitError(f"{flag} {folder}: none of its images could be read")
    return _same_channels(a_list), _same_channels(b_list), names


def _same_channels(parts):
    """Grey images among colour ones (the same side of different files) become RGB."""
    c = max(p.shape[1] for p in parts)
    return torch.cat([p.expand(-1, c, -1, -1) for p in parts])


def _stem_map(root: Path) -> dict:
    out: dict = {}
    for f in list_images(root):
        key = f.relative_to(root).with_suffix("").as_posix()
        out.setdefault(key, f)
    return out


def read_two_folders(root_a: Path, root_b: Path, load_size: int, warn=None, progress=None):
    """Files of two folders paired by relative name without extension (``A/0001.jpg``
    with ``B/0001.png``) -> (A, B, names); a missing partner or a size mismatch is one
    error naming a few of the files."""
    for flag, root in (("--data", root_a), ("--data-b", root_b)):
        if not root.is_dir():
            raise GankitError(f"{flag} {root}: no such folder")
    ma, mb = _stem_map(root_a), _stem_map(root_b)
    for flag, root, m in (("--data", root_a, ma), ("--data-b", root_b, mb)):
        if not m:
            raise GankitError(f"{flag} {root}: no image files in this folder")
    only_a = sorted(set(ma) - set(mb))
    only_b = sorted(set(mb) - set(ma))
    if only_a or only_b:
        if not set(ma) & set(mb):
            raise GankitError(
                f"--data {root_a} and --data-b {root_b}: no file of one has a partner of the "
                "same name in the other; pix2pix needs pairs (A/0001.png with B/0001.png). "
                "For unpaired folders use `gankit train cyclegan`")
        side, missing = (("--data-b", [ma[k].name for k in only_a]) if only_a
                         else ("--data", [mb[k].name for k in only_b]))
        raise GankitError(f"{side}: no partner of the same name for {len(missing)} file(s): "
                          f"{listed(missing)}; pairs match by file name without extension")
    keys = sorted(ma)
    a_list, b_list, names, skipped, bad_size, chans = [], [], [], [], [], set()
    for k, key in enumerate(keys):
        xa, why_a = _decode(ma[key])
        xb, why_b = _decode(mb[key])
        if progress is not None:
            progress(k + 1, len(keys))
        if xa is None or xb is None:
            skipped.append(key)
            continue
        if xa.shape[:2] != xb.shape[:2]:
            bad_size.append(f"{ma[key].name} {xa.shape[1]}x{xa.shape[0]} vs "
                            f"{mb[key].name} {xb.shape[1]}x{xb.shape[0]}")
            continue
        chans.add((xa.shape[2], xb.shape[2]))
        a_list.append(resize_u8(_chw(xa)[None], load_size))
        b_list.append(resize_u8(_chw(xb)[None], load_size))
        names.append(key)
    if bad_size:
        raise GankitError(f"--data {root_a} and --data-b {root_b}: {len(bad_size)} pair(s) "
                          f"differ in size: {listed(bad_size)}; each pair must have one size")
    _report_skipped(skipped, f"{root_a} / {root_b}", warn)
    if not names:
        raise GankitError(f"--data {root_a}: none of its pairs could be read")
    ca = max(c for c, _ in chans)
    cb = max(c for _, c in chans)
    if ca != cb:
        grey, colour = ("--data", "--data-b") if ca < cb else ("--data-b", "--data")
        raise GankitError(f"{grey} holds grayscale images and {colour} colour ones; give both "
                          "sides the same kind (convert the grayscale side to RGB)")
    return _same_channels(a_list), _same_channels(b_list), names


def aligned_folders(root: Path):
    """(train folder, held-out folder or None) of an aligned ``--data ROOT``."""
    if (root / "train").is_dir():
        held = next((root / s for s in ("val", "test") if (root / s).is_dir()), None)
        return root / "train", held
    return root, None


def refuse_unpaired(root: Path) -> None:
    for a, b in (("trainA", "trainB"), ("A", "B")):
        if (root / a).is_dir() and (root / b).is_dir() and not (root / "train").is_dir():
            if a == "A":
                raise UsageError(f"--data {root}: holds A/ and B/; give them as two paired "
                                 f"folders: --data {root / 'A'} --data-b {root / 'B'}")
            raise UsageError(f"--data {root}: holds {a}/ and {b}/, an unpaired (CycleGAN) "
                             "layout; pix2pix needs pairs: A|B images side by side in train/, "
                             "or --data A --data-b B with files of the same names; for "
                             "unpaired folders use `gankit train cyclegan`")


# -- splitting and stacking ------------------------------------------------------------------------


def held_out_indices(n: int, fraction: float) -> list[int]:
    """Evenly spaced pairs kept out of training: max(1, round(n * fraction)) of them, at
    most n - 1 (none for fraction 0)."""
    if fraction <= 0:
        return []
    k = max(1, min(n - 1, round(n * fraction)))
    step = n / k
    return [int((i + 0.5) * step) for i in range(k)]


def stack(inp, target):
    """(N, C, L, L) input and target -> one (N, 2C, L, L) uint8 tensor."""
    return torch.cat([inp, target], 1).contiguous()


def at_size(x, size: int):
    """Held-out and preview pairs at the image size: the whole load-size picture resized
    (the networks see a crop of the load size in training, the whole image at inference)."""
    return resize_u8(x, size)
