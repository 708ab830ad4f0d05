"""A run's saved fixed-noise grids (``samples/step-NNNNNN.png``) as one animated GIF."""

from __future__ import annotations

import contextlib
from pathlib import Path

from . import console
from .bounds import MAX_STEPS, check_fps
from .errors import GankitError, UsageError
from .images import save_gif
from .imageio import DECODE_ERRORS, decode_image
from .run import Run

MAX_AUTO_FRAMES = 200
#: grids larger than this (8192 x 8192) are skipped: 200 such frames would need 40 GB
MAX_GRID_PIXELS = 8192 * 8192
PROGRESS_FROM = 20  # frames; fewer are quick enough to need no bar


def sample_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every saved grid of a run, in step order."""
    return Run(run_dir).sample_grids()


def run_folder(target) -> Path:
    """A run folder, the run holding a checkpoint file, a folder of runs (its newest),
    or the newest run under ./runs (:meth:`gankit.run.Run.locate`)."""
    loc = Run.locate(target or None)
    if loc.run is None:
        raise GankitError(f"{target}: not inside a run folder (RUN/checkpoints/); "
                          "pass the run folder")
    return loc.run.path


def _read_grid(path: Path):
    """A grid as an RGB Pillow image; None when it cannot be read, "oversized" when it
    is over MAX_GRID_PIXELS (judged from its header, before decoding)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        return "oversized"
    except DECODE_ERRORS:
        return None
    if w * h > MAX_GRID_PIXELS:
        return "oversized"
    try:
        return Image.fromarray(decode_image(path, None, mode="RGB"))
    except GankitError:
        return None


def _stamp(img, text: str):
    """Write ``text`` in the top-left corner on a dark box (in place)."""
    from PIL import ImageDraw, ImageFont

    size = max(10, min(24, img.width // 24))
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox((4, 3), text, font=font)
    draw.rectangle((0, 0, right + 4, bottom + 3), fill=(0, 0, 0))
    draw.text((4, 3), text, fill=(255, 255, 255), font=font)
    return img


def write_timelapse(run_dir, out=None, every: int | None = None, fps: float = 8,
                    size: int | None = None, stamp: bool = True) -> Path:
    """GIF of a run's sample grids in step order, the step written in a corner.

    ``every``: take every K-th grid (the last grid is always included); by default
    every grid, or a stride that keeps at most 200 frames. ``size``: scale frames so
    their width is ``size`` pixels. Writes ``RUN/timelapse.gif`` unless ``out`` is given.
    """
    from PIL import Image

    run_dir = Path(run_dir)
    grids = sample_grids(run_dir)
    if not grids:
        raise GankitError(
            f"{Run(run_dir).samples_dir}: no sample grids (step-NNNNNN.png) to animate; train with "
            "--sample-every N"
        )
    out = Path(out) if out else Run(run_dir).timelapse_path
    if out.is_dir():
        out = out / "timelapse.gif"
    if out.suffix.lower() != ".gif":
        raise UsageError(f"--out {out}: the timelapse is a GIF; use a name ending in .gif")
    if every is not None and every < 1:
        raise UsageError(f"--every {every}: must be at least 1")
    if every is not None and every > MAX_STEPS:
        raise UsageError(f"--every {every}: must be at most {MAX_STEPS}")
    if not fps > 0:
        raise UsageError(f"--fps {fps}: must be positive")
    check_fps("--fps", fps)
    if size is not None and not 16 <= size <= 4096:
        raise UsageError(f"--size {size}: choose 16 to 4096 pixels")
    if every is None:
        every = max(1, -(-len(grids) // MAX_AUTO_FRAMES))
    picked = grids[::every]
    if picked[-1] != grids[-1]:
        picked.append(grids[-1])
    frames, skipped, oversized = [], [], []
    shape = None
    many = len(picked) >= PROGRESS_FROM
    with console.progress(transient=True) if many else contextlib.nullcontext() as prog:
        task = prog.add_task("timelapse", total=len(picked), rate="", info="") if many else None
        for i, (step, path) in enumerate(picked):
            img = _read_grid(path)
            if img is None or isinstance(img, str):
                (skipped if img is None else oversized).append(path.name)
                continue
            if shape is None:
                w, h = img.size
                shape = (size, max(1, round(h * size / w))) if size else (w, h)
            if img.size != shape:
                img = img.resize(shape, Image.Resampling.LANCZOS)
            frames.append(_stamp(img, f"step {step}") if stamp else img)
            if task is not None:
                prog.update(task, completed=i + 1)
    if skipped:
        console.warn(f"skipped {len(skipped)} unreadable grid(s) in {Run(run_dir).samples_dir}: "
                     f"{', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}")
    if oversized:
        console.warn(f"skipped {len(oversized)} grid(s) over {MAX_GRID_PIXELS:,} pixels in "
                     f"{Run(run_dir).samples_dir}: "
                     f"{', '.join(oversized[:3])}{' ...' if len(oversized) > 3 else ''}")
    if not frames:
        raise GankitError(f"{Run(run_dir).samples_dir}: none of the sample grids can be read")
    save_gif(frames, out, fps=fps)
    console.info(f"timelapse: {len(frames)} grids (steps {picked[0][0]}-{picked[-1][0]}"
                 f"{f', every {every}' if every > 1 else ''}) -> {out}")
    return out
