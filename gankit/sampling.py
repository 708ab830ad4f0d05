"""Sampling from a trained generator: seeds, batched generation and writing the results.

Used by ``gankit sample``, ``interpolate``, ``direction``, ``evaluate`` and the studio.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .bounds import MAX_SAMPLES, MAX_SEED
from .datasets import LoadOptions
from .errors import GankitError, UsageError
from .files import atomic_write
from .images import save_grid, save_png, to_uint8
from .latent import parse_direction_spec
from .plots import scatter_array
from .plugins import get_plugins


def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """``"0-99"``, ``"3,17,42"`` or a mix like ``"0-3,10"``."""
    seeds = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if b < a or a < 0:
                    raise ValueError
            else:
                a = b = int(part)
            if b > MAX_SEED:
                raise UsageError(f"{flag} {text}: seeds go up to 2^63-1 = {MAX_SEED}")
            if len(seeds) + (b - a + 1) > MAX_SAMPLES:  # counted before any list is built
                raise UsageError(f"{flag} {text}: at most {MAX_SAMPLES} seeds")
            seeds.extend(range(a, b + 1))
    except ValueError:
        raise UsageError(f"{flag} {text}: expected numbers and ranges like 0-99 or 3,17,42") from None
    if not seeds:
        raise UsageError(f"{flag} {text}: no seeds")
    return seeds


def generate(model, nets, z, batch: int = 256, labels=None):
    """Samples for latents ``z``, ``batch`` at a time, in fp32. Conv nets run channels-last
    on CPU and CUDA: about 1.7x faster on the CPU, the same values to ~1e-6. ``labels``
    (int64, one per latent) are the classes of a class-conditional model's samples."""
    import torch

    for net in nets.values():
        dev = next(net.parameters(), torch.empty(0)).device
        if dev.type in ("cpu", "cuda") and model.channels_last:
            net.to(memory_format=torch.channels_last)
    outs = []
    with torch.no_grad():
        for i in range(0, z.shape[0], batch):
            if labels is None:
                out = model.generate(nets, z[i:i + batch])
            else:
                out = model.generate(nets, z[i:i + batch], labels[i:i + batch].to(z.device))
            outs.append(out.float().cpu())
    return torch.cat(outs)


def class_index(spec, value: str, flag: str = "--class") -> int:
    """The class ``value`` names (a class name or an index) of a conditional run."""
    classes = list(getattr(spec, "classes", ()) or ())
    if not classes:
        raise UsageError(f"{flag} {value}: this run is not class-conditional (it was trained "
                         "without --conditional); drop the flag")
    value = str(value).strip()
    if value in classes:
        return classes.index(value)
    if value.isdigit():
        if int(value) < len(classes):
            return int(value)
        raise UsageError(f"{flag} {value}: the run has {len(classes)} classes, 0 to "
                         f"{len(classes) - 1}")
    folded = [c.lower() for c in classes]
    if value.lower() in folded:
        return folded.index(value.lower())
    close = difflib.get_close_matches(value, classes, n=1) or difflib.get_close_matches(
        value.lower(), folded, n=1)
    hint = f"; did you mean '{classes[folded.index(close[0].lower())]}'?" if close else ""
    shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
    raise UsageError(f"{flag} {value}: no such class{hint} (the run's classes: {shown})")


def parse_classes(spec, text: str, flag: str = "--class") -> list[int]:
    """``--class tuna,salmon`` (names or indices) -> class indices."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise UsageError(f"{flag} {text!r}: name a class, e.g. {flag} "
                         f"{(list(getattr(spec, 'classes', ())) or ['NAME'])[0]}")
    return [class_index(spec, p, flag) for p in parts]


def class_labels(spec, classes: str | None, by_class: bool, seeds: list[int]):
    """``(seeds, labels, row)`` for ``--class``/``--grid-by-class``: the labels (int64)
    of the samples, None when neither is given; with ``by_class`` each class gets a row
    of the same seeds, and ``row`` is its length (0 otherwise)."""
    import torch

    if not classes and not by_class:
        return seeds, None, 0
    if not getattr(spec, "classes", ()):
        flag = "--class" if classes else "--grid-by-class"
        raise UsageError(f"{flag}: this run is not class-conditional (it was trained without "
                         "--conditional); drop the flag")
    wanted = parse_classes(spec, classes) if classes else list(range(len(spec.classes)))
    if by_class:
        row = len(seeds)
        if row * len(wanted) > MAX_SAMPLES:
            raise UsageError(f"--grid-by-class: {row} x {len(wanted)} classes is more than "
                             f"{MAX_SAMPLES} samples; lower -n")
        labels = torch.tensor(wanted, dtype=torch.int64).repeat_interleave(row)
        return seeds * len(wanted), labels, row
    labels = torch.tensor([wanted[i % len(wanted)] for i in range(len(seeds))], dtype=torch.int64)
    return seeds, labels, 0


def write_outputs(images, out: Path, nrow: int, names=None) -> list[Path]:
    """Grid PNG, a folder of PNGs (out ends with / or is a folder), or .npy."""
    out_s = str(out)  # a str keeps the trailing "/" that asks for a folder
    out = Path(out)
    if out_s.endswith(".npy"):
        import numpy as np

        arr = images.numpy().astype("float32")
        atomic_write(out, lambda tmp: np.save(open(tmp, "wb"), arr, allow_pickle=False))
        return [out]
    u8 = to_uint8(images)
    if out_s.endswith(("/", "\\")) or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, img in enumerate(u8):
            p = out / f"{names[i] if names else f'{i:05d}'}.png"
            save_png(img, p)
            paths.append(p)
        return paths
    if out.suffix.lower() not in (".png", ""):
        raise UsageError(f"--out {out}: use a .png file, a folder ending in /, or a .npy file")
    save_grid(u8, out if out.suffix else out.with_suffix(".png"), nrow=nrow)
    return [out]


def _label_font(labels, cell_width: int):
    """Pillow's default font, as large as fits the widest label in a cell (10 px at most)."""
    from PIL import ImageFont

    widest = max(labels, key=len) if labels else ""
    for size in (10, 9, 8, 7, 6):
        try:
            font = ImageFont.load_default(size=size)
        except (TypeError, OSError, ImportError):  # no FreeType: the fixed bitmap font
            return ImageFont.load_default()
        if font.getbbox(widest)[2] <= cell_width + 1:
            return font
    return font


def labelled_grid(images_u8, labels, nrow: int, padding: int = 2):
    """A grid like :func:`gankit.images.save_grid` with a text line under each cell."""
    from PIL import Image, ImageDraw

    n, c, h, w = images_u8.shape
    cols = max(1, min(nrow, n))
    rows = -(-n // cols)
    font = _label_font(labels, w + padding)
    text_h = max(font.getbbox("0123456789")[3], 8) + 3
    mode = "L" if c == 1 else "RGB"
    sheet = Image.new(mode, (cols * (w + padding) + padding,
                             rows * (h + text_h + padding) + padding), 0)
    draw = ImageDraw.Draw(sheet)
    ink = 225 if mode == "L" else (225, 225, 225)
    for i in range(n):
        r, col = divmod(i, cols)
        x = padding + col * (w + padding)
        y = padding + r * (h + text_h + padding)
        arr = images_u8[i].permute(1, 2, 0).contiguous().numpy()
        sheet.paste(Image.fromarray(arr[..., 0] if c == 1 else arr), (x, y))
        tw = draw.textlength(labels[i], font=font)
        draw.text((x + (w - tw) / 2, y + h + 1), labels[i], fill=ink, font=font)
    return sheet


def save_labelled_grid(images, labels, out: Path, nrow: int) -> Path:
    out_s, out = str(out), Path(out)  # the str keeps a trailing "/"
    if out.suffix.lower() not in (".png", "") or out_s.endswith(("/", "\\")) or out.is_dir():
        raise UsageError(f"--label draws seeds under a grid: use --out FILE.png, not {out_s}")
    out = out if out.suffix else out.with_suffix(".png")
    sheet = labelled_grid(to_uint8(images), labels, nrow)
    atomic_write(out, lambda tmp: sheet.save(tmp, format="PNG"))
    return out


def parse_direction_specs(values) -> list[tuple[str, float]]:
    return [parse_direction_spec(v) for v in values]


def real_data_for(spec):
    """(real samples, mode centres) of the registered data set named by ``spec``, or
    (None, None) when it is not a registered vector data set."""
    try:
        ds = get_plugins().datasets().get(spec.name)
        if ds.kind != "vector" or ds.needs_path:
            return None, None
        data = ds.load(LoadOptions(seed=0))
    except (GankitError, KeyError, OSError, ValueError):
        return None, None
    return data.samples, (data.meta or {}).get("centers")


def save_scatter(samples, out_path, spec, size: int | None = None) -> Path:
    """Write the samples' scatter plot over the real data as a PNG, atomically.

    The real points come from the data-set registry (``spec.name``, loaded with seed 0);
    when that data set is not installed the plot shows the samples alone.
    """
    from PIL import Image

    out = Path(out_path)
    if str(out).endswith(("/", "\\")) or out.is_dir() or out.suffix.lower() not in (".png", ""):
        raise UsageError(f"--out {out_path}: 2-D samples are written as one scatter plot "
                         "(a .png file) or as raw points (a .npy file)")
    if not out.suffix:
        out = out.with_suffix(".png")
    real, centers = real_data_for(spec)
    img = Image.fromarray(scatter_array(samples, real, centers, **({"size": size} if size else {})))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: img.save(tmp, format="PNG"))
    return out
