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
@click.option("--force", is_flag=True, help="Replace files of the same name in FOLDER.")
def export(name, folder, image_size, data, force):
    """Write data set NAME as PNG files into FOLDER (e.g. `gankit datasets export sushi ./sushi`).

    Every sample gets its own file: two source images of the same name become NAME.png
    and NAME-1.png. FOLDER must be apart from --data (neither it, inside it, nor around
    it); files already in FOLDER with the names to write are refused unless --force.
    """
    from ..datasets_export import export_dataset

    count = export_dataset(name, folder, image_size=image_size, data=data, force=force)
    console.info(f"wrote {count} images to {folder}")


COMMANDS = [datasets]
