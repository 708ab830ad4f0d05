"""`gankit translate [RUN] INPUT...`: image-to-image translation with a trained model."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console
from ..errors import GankitError, UsageError
from ..translation import collect_inputs, decode, split_run, translate_files  # noqa: F401


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
    from ..engine import pick_device
    from ..models import TRANSLATION, require_kind
    from ..loading import load_model

    if size is not None and keep_size:
        raise UsageError("--size and --keep-size: choose one")
    if size is not None and size < 1:
        raise UsageError(f"--size {size}: must be at least 1")
    if size is not None and size > 8192:
        raise UsageError(f"--size {size}: must be at most 8192 pixels")
    run, inputs = split_run(tuple(paths))
    pairs = collect_inputs(inputs, out)
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev)
    require_kind(model, TRANSLATION, "translate", "use `gankit sample` for unconditional models")
    done, skipped = translate_files(model, nets, config, spec, pairs, direction, size=size,
                                    full_res=full_res, side_by_side=side_by_side, device=dev)
    if not done:
        raise GankitError(f"none of the {len(pairs)} input file(s) could be read")
    msg = (f"translated {done} image(s) {direction} with {c.path} (step {c.step}) -> {out}")
    if skipped:
        msg += f"; skipped {len(skipped)} unreadable file(s)"
    console.info(msg)


COMMANDS = [translate]
