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
from pathlib import Path

from .. import console
from ..errors import UsageError
from .common import TOLERANCE, Check, directions_for, layout, load, metadata, output_paths

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
           ort_dir=None, ema: bool = True, force: bool = False) -> Exported:
    """Export the generator(s) of ``target`` (a run folder, a folder of runs, a checkpoint
    or None for the newest run under ./runs) in format ``fmt``; see docs/export.md."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose onnx, torchscript or web")
    if not tolerance > 0:
        raise UsageError(f"--tolerance {tolerance:g}: must be a positive number like 1e-3")
    seeds = list(check_seeds)
    if not seeds:
        raise UsageError("--check-seeds: give at least one seed")
    from .common import MAX_CHECK_SEEDS

    if len(seeds) > MAX_CHECK_SEEDS:
        raise UsageError(f"--check-seeds: at most {MAX_CHECK_SEEDS} seeds")
    from .onnx import OPSET

    opset = OPSET if opset is None else int(opset)
    if not 17 <= opset <= 21:
        raise UsageError(f"--opset {opset}: choose 17 to 21 (default {OPSET})")
    if fmt == "web" and (uint8 or direction):
        raise UsageError("--format web: --uint8 and --direction do not apply (the page runs a "
                         "float generator of an unconditional model)")
    if fmt != "web" and ort_dir is not None:
        raise UsageError("--ort-dir: only for --format web")
    if fmt == "onnx" or fmt == "web":
        from .common import require

        require("onnx")
        require("onnxruntime")
    src = load(target, ema=ema)
    result = Exported(fmt, source=src)
    if fmt == "web":  # refuse what the page cannot show, and find the runtime, first
        from .web import check_source, ortweb

        check_source(src, list(web_seeds))
        out_dir = Path(out) if out else Path(src.run_name + "-web")
        runtime = ortweb.load(ort_dir)
        from .web import check_target
        from ..outputs import check_output

        check_output(out_dir, folder=True)
        check_target(out_dir)
    with console.progress() as prog:
        if fmt == "web":
            task = prog.add_task("export web", total=3, rate="", info=src.run_name)
            from .web import export_web

            info = export_web(src, out_dir, seeds=seeds, web_seeds=list(web_seeds),
                              tolerance=tolerance, opset=opset, exporter=exporter,
                              ort_source=runtime, progress=lambda: prog.advance(task))
            result.paths.append(out_dir)
            result.checks.append(info.pop("check"))
            result.extra = info
            return result
        dirs = directions_for(src, direction)
        paths = output_paths(out, src, dirs, SUFFIX[fmt])
        from ..outputs import check_output

        for path in paths:  # never into a run folder, never over a file without --force
            check_output(path, force=force)
        task = prog.add_task(f"export {fmt}", total=2 * len(dirs), rate="", info=src.run_name)
        for d, path in zip(dirs, paths):
            if path.is_dir():
                raise UsageError(f"--out {path}: a folder; give a file name")
            lay = layout(src, uint8, d)
            meta = metadata(src, fmt, uint8, d, lay)
            kw = dict(uint8=uint8, direction=d, lay=lay, meta=meta, seeds=seeds,
                      tolerance=tolerance, progress=lambda: prog.advance(task))
            if fmt == "onnx":
                from .onnx import export_onnx

                check = export_onnx(src, path, opset=opset, exporter=exporter, **kw)
            else:
                from .torchscript import export_torchscript

                check = export_torchscript(src, path, **kw)
            result.paths.append(path)
            result.checks.append(check)
    return result


__all__ = ["export", "Exported", "Check", "FORMATS", "TOLERANCE"]
