"""`gankit translate [RUN] INPUT...`: image-to-image translation with a trained model."""

from __future__ import annotations

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


def output_name(rel: Path) -> Path:
    return rel if rel.suffix.lower() in WRITE_FORMATS else rel.with_suffix(".png")


def collect_inputs(inputs: list[str], out: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs: files as given, folders recursively with their
    relative paths kept under ``out``."""
    from ..imageio import list_images

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

    from ..imageio import decode_image

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
