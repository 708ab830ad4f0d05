"""`gankit translate [RUN] INPUT...`: image-to-image translation with a trained model."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import console
from ..errors import GankitError, UsageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
#: output formats by extension; inputs of other types are written as NAME.png
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF"}


# -- finding runs and inputs -----------------------------------------------------------------


def is_run(path: Path) -> bool:
    """A checkpoint file, a run folder, or a folder of runs."""
    from ..checkpoints import list_checkpoints

    if path.is_file():
        return path.suffix.lower() == ".safetensors"
    if not path.is_dir():
        return False
    if list_checkpoints(path):
        return True
    try:
        return any(list_checkpoints(d) for d in path.iterdir() if d.is_dir())
    except OSError:
        return False


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


def _list_images(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath, f) for f in filenames
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    return sorted(found)


def output_name(rel: Path) -> Path:
    return rel if rel.suffix.lower() in WRITE_FORMATS else rel.with_suffix(".png")


def collect_inputs(inputs: list[str], out: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs: files as given, folders recursively with their
    relative paths kept under ``out``."""
    pairs: list[tuple[Path, Path]] = []
    used: set[Path] = set()
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files = _list_images(p)
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


def _decode_errors():
    import struct

    from PIL import Image

    return (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError,
            ZeroDivisionError, TypeError, Image.DecompressionBombError)


def _reason(exc: BaseException) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _to_8bit(img):
    """Pillow's 16/32-bit and float modes -> L, scaled to 0..255."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16"):
        arr = arr / 257.0
    elif img.mode == "I":
        arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
    elif img.mode == "F":
        arr = np.nan_to_num(arr)
        arr = arr * 255.0 if arr.max(initial=0) <= 1.0 else arr
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def _composite_on_black(img):
    """LA/RGBA -> L/RGB with colour * alpha (transparent areas become black)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(img).astype(np.uint16)
    alpha = arr[..., -1:]
    rgb = ((arr[..., :-1] * alpha + 127) // 255).astype(np.uint8)
    if rgb.shape[2] == 1:
        return Image.fromarray(rgb[..., 0], "L")
    return Image.fromarray(rgb, "RGB")


def decode(path: Path, channels: int = 3):
    """One image file -> a Pillow image in mode RGB (``channels`` 3) or L (1).

    EXIF orientation is applied; transparency (RGBA, LA, PA, P with a transparent
    colour) is composited on black as in training; 16-bit, 32-bit and float images are
    scaled to 8 bit; CMYK, YCbCr, LAB and HSV are converted. Raises the decoder's error.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.load()  # truncated or corrupt data raises here
        img = im
        try:
            img = ImageOps.exif_transpose(im) or im
        except Exception:  # noqa: BLE001 - a bad EXIF block must not lose the image
            img = im
        mode = img.mode
        if mode == "1":
            img = img.convert("L")
        elif mode.startswith("I") or mode == "F":
            img = _to_8bit(img)
        elif mode in ("P", "PA"):
            img = img.convert("RGBA" if mode == "PA" or "transparency" in img.info else "RGB")
        elif mode == "RGBa":
            img = img.convert("RGBA")
        elif mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX...
        if img.mode in ("LA", "RGBA"):
            img = _composite_on_black(img)
        return img.convert("L" if channels == 1 else "RGB")  # always a copy


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


def _save(img, path: Path) -> None:
    from ..checkpoints import atomic_write

    fmt = WRITE_FORMATS.get(path.suffix.lower(), "PNG")
    kw = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: img.save(tmp, format=fmt, **kw))


@click.command("translate")
@click.argument("paths", nargs=-1, metavar="[RUN] INPUT...")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), default="a2b", show_default=True,
              help="a2b: domain A (--data) to B (--data-b); b2a the other way.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("translated"),
              show_default=True, help="Folder for the outputs (input names and subfolders kept).")
@click.option("--side-by-side", is_flag=True, help="Write input and output next to each other.")
@click.option("--size", type=int, help="Outputs' shorter side in pixels (aspect kept).")
@click.option("--keep-size", is_flag=True, help="Outputs have the input's size (the default).")
@click.option("--full-res", is_flag=True,
              help="Run the generator on the input at its own resolution (fully convolutional) "
                   "instead of at the model's size.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
def translate(paths, direction, out, side_by_side, size, keep_size, full_res, device):
    """Translate images or folders (recursively) with a translation model such as cyclegan.

    RUN is a run folder, a folder of runs or a .safetensors checkpoint; without it the
    newest run under ./runs is used. By default each image is translated with its shorter
    side at the model's training size and the result is resized back to the input's size;
    --full-res translates at the input's own size. Unreadable files are skipped with a
    warning.

    \b
    Examples:
      gankit translate runs/cyclegan-20250101-120000 photos/ --out paintings/
      gankit translate photo.jpg --side-by-side
      gankit translate painting.png --direction b2a --full-res
    """
    from PIL import Image

    from ..engine import pick_device
    from ..models import TRANSLATION, require_kind
    from ..runs import load_model

    if size is not None and keep_size:
        raise UsageError("--size and --keep-size: choose one")
    if size is not None and size < 1:
        raise UsageError(f"--size {size}: must be at least 1")
    run, inputs = split_run(tuple(paths))
    pairs = collect_inputs(inputs, out)
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev)
    require_kind(model, TRANSLATION, "translate", "use `gankit sample` for unconditional models")
    if not hasattr(model, "translate"):
        raise GankitError(f"model '{model.name}' does not implement translate()")
    multiple = int(model.size_multiple(config, spec)) if hasattr(model, "size_multiple") else 4
    channels = spec.channels
    errors = _decode_errors()
    done, skipped = 0, []
    with console.progress() as prog:
        task = prog.add_task(f"translate {direction}", total=len(pairs), rate="", info="")
        for src, target in pairs:
            try:
                img = decode(src, channels)
            except errors as exc:
                console.warn(f"skipped {src}: cannot read image ({_reason(exc)})")
                skipped.append(src)
                prog.advance(task)
                continue
            work = img.size if full_res else _scaled(img.size, spec.size)
            result = translate_image(model, nets, img, direction, work, multiple, dev)
            final = _scaled(img.size, size) if size else img.size
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
    if not done:
        raise GankitError(f"none of the {len(pairs)} input file(s) could be read")
    msg = (f"translated {done} image(s) {direction} with {c.path} (step {c.step}) -> {out}")
    if skipped:
        msg += f"; skipped {len(skipped)} unreadable file(s)"
    console.info(msg)


COMMANDS = [translate]
