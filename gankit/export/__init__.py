"""``gankit export``: a run's generator as a file that runs outside Python.

* :mod:`.onnx`: ONNX (opset 18, dynamic batch), checked with onnxruntime;
* :mod:`.torchscript`: ``torch.jit.trace`` + ``torch.jit.save``, checked with ``torch.jit.load``;
* :mod:`.web`: a static folder with the studio's slider page running the ONNX generator
  in the browser with onnxruntime-web (:mod:`.ortweb`).

Inputs, outputs and metadata are described in :mod:`.common` and docs/export.md. Every
exported file is run on fixed seeds and compared with gankit's own output before it is
renamed into place. Importing this package does not import torch or onnx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import console
from ..errors import UnknownNameError, UsageError
from ..outputs import check_output
from ..extensions import ExportOptions
from ..plugins import get_plugins
from .common import (MAX_CHECK_SEEDS, TOLERANCE, Check, directions_for, layout, load, metadata,
                     output_paths, require)
from .onnx import OPSET

#: gankit's own formats (plugins add more through ``register_exporters``)
FORMATS = ("onnx", "torchscript", "web")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


@dataclass
class Exported:
    format: str
    paths: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    source: object = None
    extra: dict = field(default_factory=dict)


def export(target, fmt: str = "onnx", out=None, *, direction: str | None = None,
           uint8: bool = False, check_seeds=tuple(range(16)), tolerance: float = TOLERANCE,
           opset: int | None = None, exporter: str = "auto", web_seeds=tuple(range(256)),
           ort_dir=None, ema: bool = True, plugins=None, force: bool = False) -> Exported:
    """Export the generator(s) of ``target`` (a run folder, a folder of runs, a checkpoint
    or None for the newest run under ./runs) in format ``fmt``, a name in the exporter
    registry (``register_exporters``); see docs/export.md."""
    try:
        fmt_obj = (plugins or get_plugins()).exporters().get(fmt)
    except UnknownNameError as exc:
        raise UsageError(f"--format {fmt}: {exc}") from None
    if not tolerance > 0:
        raise UsageError(f"--tolerance {tolerance:g}: must be a positive number like 1e-3")
    seeds = list(check_seeds)
    if not seeds:
        raise UsageError("--check-seeds: give at least one seed")
    if len(seeds) > MAX_CHECK_SEEDS:
        raise UsageError(f"--check-seeds: at most {MAX_CHECK_SEEDS} seeds")
    opset = OPSET if opset is None else int(opset)
    if not 17 <= opset <= 21:
        raise UsageError(f"--opset {opset}: choose 17 to 21 (default {OPSET})")
    options = ExportOptions(uint8=uint8, direction=direction, check_seeds=seeds,
                            tolerance=tolerance, opset=opset, exporter=exporter,
                            web_seeds=list(web_seeds), ort_dir=ort_dir)
    fmt_obj.check_options(options)
    for module in fmt_obj.requires:
        require(module)
    src = load(target, ema=ema)
    result = Exported(fmt_obj.name, source=src)
    prepared = fmt_obj.prepare(src, out, options)
    with console.progress() as prog:
        if fmt_obj.folder:
            task = prog.add_task(f"export {fmt_obj.name}", total=3, rate="", info=src.run_name)
            path, check, extra = fmt_obj.export_folder(src, prepared, options,
                                                       lambda: prog.advance(task))
            result.paths.append(path)
            result.checks.append(check)
            result.extra = extra
            return result
        dirs = directions_for(src, direction)
        paths = output_paths(out, src, dirs, fmt_obj.suffix)
        for path in paths:  # never into a run folder, never over a file without --force
            check_output(path, force=force)
        task = prog.add_task(f"export {fmt_obj.name}", total=2 * len(dirs), rate="",
                             info=src.run_name)
        for d, path in zip(dirs, paths):
            if path.is_dir():
                raise UsageError(f"--out {path}: a folder; give a file name")
            lay = layout(src, uint8, d)
            meta = metadata(src, fmt_obj.name, uint8, d, lay)
            check = fmt_obj.write(src, path, direction=d, lay=lay, meta=meta, options=options,
                                  progress=lambda: prog.advance(task))
            result.paths.append(path)
            result.checks.append(check)
    return result


__all__ = ["export", "Exported", "Check", "FORMATS", "TOLERANCE"]
