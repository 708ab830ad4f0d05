"""Translating image files with a translation model (``gankit translate``, the studio).

Importing it costs nothing at ``gankit --help`` time: numpy, Pillow and torch are
imported where they are used."""

from __future__ import annotations

from pathlib import Path

from . import console
from .errors import GankitError, UsageError
from .files import atomic_write
from .models import TRANSLATION
from .run import Run

#: output formats by extension; inputs of other types are written as NAME.png
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF"}


# -- finding runs and inputs -----------------------------------------------------------------


def is_run(path: Path) -> bool:
    """A checkpoint file, a run folder, or a folder of runs (:meth:`Run.locate`; a path
    here, never a name under ./runs: the other arguments are image paths)."""
    if not Path(path).exists():
        return False
    try:
        Run.locate(str(Path(path).absolute()))
    except GankitError:
        return False
    return True


def split_run(paths: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``[RUN] INPUT...``: the first argument is the run when it is one."""
    if not paths:
        raise UsageError("give one or more INPUT images or folders (gankit translate --help)")
    first = Path(paths[0])
    if is_run(first):
        if len(paths) == 1:
            raise UsageError(f"{paths[0]} is a run; give INPUT images or folders after it")
        return paths[0], list(paths[1:])
    return None, list(paths)


def output_name(rel: Path) -> Path:
    return rel if rel.suffix.lower() in WRITE_FORMATS else rel.with_suffix(".png")


def collect_inputs(inputs: list[str], out: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs: files as given, folders recursively with their
    relative paths kept under ``out``."""
    from .imageio import IMAGE_EXTENSIONS, list_images  # numpy: not at `gankit --help` time

    pairs: list[tuple[Path, Path]] = []
    used: set[Path] = set()
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files = list_images(p, IMAGE_EXTENSIONS)
            if not files:
                raise GankitError(f"{arg}: no image files in this folder "
                                  f"({', '.join(IMAGE_EXTENSIONS)})")
            rels = [f.relative_to(p) for f in files]
        elif p.exists():
            files, rels = [p], [Path(p.name)]
        else:
            raise GankitError(f"{arg}: no such file or folder")
        for f, rel in zip(files, rels):
            target = out / output_name(rel)
            stem, n = target.with_suffix(""), 2
            while target in used:  # same name from two arguments: name-2.png, ...
                target = Path(f"{stem}-{n}{target.suffix}")
                n += 1
            used.add(target)
            pairs.append((f, target))
    sources = {f.resolve() for f, _ in pairs}
    for f, target in pairs:
        if target.resolve() in sources:
            raise GankitError(f"--out {out}: would overwrite the input {target}; "
                              "choose another --out folder")
    return pairs


# -- decoding ---------------------------------------------------------------------------------


def decode(path: Path, channels: int = 3):
    """One image file -> a Pillow image in mode RGB (``channels`` 3) or L (1), at its own
    size, decoded as training data is (:func:`gankit.imageio.decode_image`: EXIF
    orientation, transparency on black, 16-bit scaled, CMYK converted). Raises
    GankitError naming the file when it cannot be read."""
    from PIL import Image

    from .imageio import decode_image  # numpy: not at `gankit --help` time

    arr = decode_image(path, None, mode="L" if channels == 1 else "RGB")
    return Image.fromarray(arr[..., 0] if channels == 1 else arr)


# -- translating --------------------------------------------------------------------------------


def _pad_to(x, multiple: int):
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not ph and not pw:
        return x, (0, 0)
    top, left = ph // 2, pw // 2
    pad = (left, pw - left, top, ph - top)
    mode = "reflect" if max(pad[0], pad[1]) < w and max(pad[2], pad[3]) < h else "replicate"
    return F.pad(x, pad, mode=mode), (top, left)


def translate_image(model, nets, img, direction: str, work_size, multiple: int, device):
    """A Pillow image translated at ``work_size`` (w, h) -> a Pillow image of that size."""
    import numpy as np
    import torch
    from PIL import Image

    if img.size != tuple(work_size):
        img = img.resize(work_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    h, w = x.shape[-2:]
    x, (top, left) = _pad_to(x.to(device), multiple)
    with torch.no_grad():
        y = model.translate(nets, x, direction)
    y = y[..., top:top + h, left:left + w].float().cpu()
    u8 = ((y[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(u8[..., 0] if u8.shape[2] == 1 else u8)


def _scaled(size: tuple[int, int], shorter: int) -> tuple[int, int]:
    w, h = size
    s = shorter / min(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


#: --full-res works at most at this many pixels on the longer side
MAX_WORK_SIDE = 4096
#: otherwise at most this many times the model's size on the longer side
MAX_WORK_FACTOR = 4


def work_size(size: tuple[int, int], model_size: int, full_res: bool) -> tuple[tuple[int, int], int | None]:
    """The size an image of ``size`` (w, h) is translated at, and the cap applied (None
    when the usual size fits): the shorter side at the model's size (or the image's own
    size with ``full_res``), the longer side at most 4x the model's size (``full_res``:
    4096 px), so a 64x20000 strip or a 12000x12000 photo cannot exhaust memory."""
    work = tuple(size) if full_res else _scaled(size, model_size)
    cap = MAX_WORK_SIDE if full_res else MAX_WORK_FACTOR * model_size
    w, h = work
    if max(w, h) <= cap:
        return work, None
    s = cap / max(w, h)
    return (max(1, round(w * s)), max(1, round(h * s))), cap


def _save(img, path: Path) -> None:
    fmt = WRITE_FORMATS.get(path.suffix.lower(), "PNG")
    kw = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: img.save(tmp, format=fmt, **kw))


def translate_files(model, nets, config, spec, pairs, direction: str, *, size=None,
                    full_res: bool = False, side_by_side: bool = False, device="cpu"):
    """Translate each (input, output) pair; unreadable inputs are skipped with a warning.
    Returns (translated count, skipped inputs)."""
    from PIL import Image

    if model.kind != TRANSLATION:
        raise GankitError(f"model '{model.name}' does not translate images")
    multiple = int(model.size_multiple(config, spec))
    dev = device
    channels = spec.channels
    done, skipped = 0, []
    with console.progress() as prog:
        task = prog.add_task(f"translate {direction}", total=len(pairs), rate="", info="")
        for src, target in pairs:
            try:
                img = decode(src, channels)
            except GankitError as exc:
                console.warn(f"skipped {exc}")
                skipped.append(src)
                prog.advance(task)
                continue
            work, cap = work_size(img.size, spec.size, full_res)
            if cap is not None:
                console.warn(f"{src}: {img.size[0]}x{img.size[1]} is translated at "
                             f"{work[0]}x{work[1]} (the longer side capped at {cap} px"
                             f"{'' if full_res else ', 4x the model size'}); the result is "
                             "resized back")
            result = translate_image(model, nets, img, direction, work, multiple, dev)
            final = _scaled(img.size, size) if size else img.size
            out_cap = max(MAX_WORK_SIDE, *img.size)
            if max(final) > out_cap:  # --size on a long strip: keep the output bounded too
                asked, k = final, out_cap / max(final)
                final = (max(1, round(final[0] * k)), max(1, round(final[1] * k)))
                console.warn(f"{src}: --size {size} asks for {asked[0]}x{asked[1]}; writing "
                             f"{final[0]}x{final[1]} (the longer side capped at {out_cap} px)")
            if result.size != final:
                result = result.resize(final, Image.Resampling.LANCZOS)
            if side_by_side:
                left = img if img.size == final else img.resize(final, Image.Resampling.LANCZOS)
                pair = Image.new(result.mode, (final[0] * 2, final[1]))
                pair.paste(left.convert(result.mode), (0, 0))
                pair.paste(result, (final[0], 0))
                result = pair
            _save(result, target)
            done += 1
            prog.update(task, advance=1, info=src.name)
    return done, skipped
