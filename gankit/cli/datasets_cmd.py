"""`gankit datasets export NAME DIR`."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console


@click.group("datasets")
def datasets():
    """Work with registered data sets."""


@datasets.command("export")
@click.argument("name")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--image-size", type=int, help="Side of the written images (default: native).")
@click.option("--data", type=str, help="Source files, for data sets that read them.")
def export(name, folder, image_size, data):
    """Write data set NAME as PNG files into FOLDER (e.g. `gankit datasets export sushi ./sushi`)."""
    from ..checkpoints import atomic_write
    from ..datasets import LoadOptions
    from ..plugins import get_plugins

    ds = get_plugins().datasets().get(name)
    if ds.kind != "image":
        raise click.UsageError(f"'{name}' is not an image data set")
    size = image_size or ds.default_size
    d = ds.load(LoadOptions(path=data, image_size=size, warn=console.warn))
    folder.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    arr = d.samples.permute(0, 2, 3, 1).numpy()
    for i, img in enumerate(arr):
        stem = d.names[i] if i < len(d.names) and d.names[i] else f"{name}-{i:05d}"
        pil = Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)
        atomic_write(folder / f"{Path(stem).stem}.png", lambda tmp, p=pil: p.save(tmp, format="PNG"))
    console.info(f"wrote {len(arr)} images to {folder}")


COMMANDS = [datasets]
