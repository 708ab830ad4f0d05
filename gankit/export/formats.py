"""gankit's own export formats, registered through ``register_exporters`` like a
plugin's: ONNX, TorchScript and the static web page. Importing this module imports no
torch or onnx; each format imports its module when it runs."""

from __future__ import annotations

from pathlib import Path

from ..extensions import Exporter
from ..errors import UsageError
from ..outputs import check_output
from .common import require


class OnnxFormat(Exporter):
    name = "onnx"
    summary = "a .onnx file (opset 18, dynamic batch), checked with onnxruntime"
    suffix = ".onnx"
    requires = ("onnx", "onnxruntime")

    def write(self, source, path, *, direction, lay, meta, options, progress):
        from .onnx import export_onnx  # onnx and torch: when the format runs

        return export_onnx(source, path, opset=options.opset, exporter=options.exporter,
                           uint8=options.uint8, direction=direction, lay=lay, meta=meta,
                           seeds=options.check_seeds, tolerance=options.tolerance,
                           progress=progress)


class TorchScriptFormat(Exporter):
    name = "torchscript"
    summary = "a torch.jit archive (.pt), checked with torch.jit.load"
    suffix = ".pt"

    def write(self, source, path, *, direction, lay, meta, options, progress):
        from .torchscript import export_torchscript  # torch: when the format runs

        return export_torchscript(source, path, uint8=options.uint8, direction=direction,
                                  lay=lay, meta=meta, seeds=options.check_seeds,
                                  tolerance=options.tolerance, progress=progress)


class WebFormat(Exporter):
    name = "web"
    summary = "a folder with the slider page running the ONNX generator in the browser"
    folder = True
    requires = ("onnx", "onnxruntime")

    def check_options(self, options) -> None:
        if options.uint8 or options.direction:
            raise UsageError("--format web: --uint8 and --direction do not apply (the page "
                             "runs a float generator, and a translation run's first "
                             "direction)")

    def prepare(self, source, out, options):
        """Refuse what the page cannot show, and find the runtime, first."""
        from .web import check_source, check_target, ortweb  # the page's files: when it runs

        check_source(source, list(options.web_seeds))
        out_dir = Path(out) if out else Path(source.run_name + "-web")
        runtime = ortweb.load(options.ort_dir)
        check_output(out_dir, folder=True)  # never into a run folder or over a file
        check_target(out_dir)
        return out_dir, runtime

    def export_folder(self, source, prepared, options, progress):
        from .web import export_web  # onnx and torch: when the format runs

        out_dir, runtime = prepared
        info = export_web(source, out_dir, seeds=options.check_seeds,
                          web_seeds=list(options.web_seeds), tolerance=options.tolerance,
                          opset=options.opset, exporter=options.exporter,
                          ort_source=runtime, progress=progress)
        check = info.pop("check")
        return out_dir, check, info


def register_exporters(register):
    """gankit's own formats, in the order ``gankit export --help`` lists them."""
    for fmt in (OnnxFormat(), TorchScriptFormat(), WebFormat()):
        register(fmt)


def check_requirements(fmt: Exporter) -> None:
    for module in fmt.requires:
        require(module)
