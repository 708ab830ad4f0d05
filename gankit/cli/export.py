"""`gankit export [RUN] [OUT]`: a run's generator as ONNX, TorchScript or a static web page."""

from __future__ import annotations

import click

from .. import console
from ..errors import UsageError
from ..sampling import parse_seeds


class FormatName(click.ParamType):
    """A name in the export-format registry (gankit's and the plugins' formats)."""

    name = "format"

    def get_metavar(self, param, ctx=None):
        from ..plugins import get_plugins

        return "[" + "|".join(e.name for e in get_plugins().exporters()) + "]"

    def convert(self, value, param, ctx):
        from ..errors import UnknownNameError
        from ..plugins import get_plugins

        try:
            return get_plugins().exporters().get(value).name
        except UnknownNameError as exc:
            self.fail(str(exc), param, ctx)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


@click.command("export")
@click.argument("run", required=False)
@click.argument("out_arg", metavar="[OUT]", required=False)
@click.option("--format", "fmt", type=FormatName(), default="onnx", show_default=True,
              help="onnx: a .onnx file; torchscript: a torch.jit archive (.pt); web: a "
                   "folder with the slider page running the ONNX generator in the browser; "
                   "or a format a plugin registers (register_exporters).")
@click.option("--out", "out_opt", type=str,
              help="The file (or, for web, the folder) to write; default RUNNAME.onnx, "
                   "RUNNAME.pt or RUNNAME-web/ here. Same as OUT.")
@click.option("--direction", type=click.Choice(["a2b", "b2a", "both"]),
              help="Translation models: which generator(s); both (the default) writes "
                   "OUT-a2b and OUT-b2a.")
@click.option("--uint8", is_flag=True,
              help="uint8 images (N, H, W, C) in 0..255 instead of float32 (N, C, H, W) in [0, 1].")
@click.option("--check-seeds", default="0-15", show_default=True,
              help="Seeds the exported file is checked on against PyTorch.")
@click.option("--tolerance", type=float, default=1e-3, show_default=True,
              help="Largest difference allowed by the check (float outputs in [0, 1]).")
@click.option("--opset", type=int, help="ONNX opset (default 18).")
@click.option("--exporter", type=click.Choice(["auto", "torchscript", "dynamo"]), default="auto",
              show_default=True, help="torch's ONNX exporter: the TorchScript-based one where "
                                      "torch has it (auto), or the torch.export one (needs onnxscript).")
@click.option("--web-seeds", default="0-255", show_default=True,
              help="--format web: the seeds whose z the page carries (shuffle picks among them).")
@click.option("--ort-dir", type=str,
              help="--format web: a folder holding onnxruntime-web's files, or the tarball of "
                   "`npm pack onnxruntime-web@VERSION` (default: scripts/fetch-ort-web.sh's cache).")
@click.option("--no-ema", "no_ema", is_flag=True,
              help="Export the trained generator itself, not its EMA average.")
@click.option("--force", is_flag=True,
              help="Replace an existing output file (never one inside a run folder).")
def export(run, out_arg, fmt, out_opt, direction, uint8, check_seeds, tolerance, opset, exporter,
           web_seeds, ort_dir, no_ema, force):
    """Export a run's generator to run outside Python: ONNX, TorchScript or a static web page.

    RUN is a run folder, a folder of runs or a .safetensors checkpoint (default: the newest
    run under ./runs). The exported file is run on --check-seeds and compared with
    PyTorch before it is written. See docs/export.md for inputs, outputs and metadata.

    \b
      gankit export runs/sushi64                      # sushi64.onnx: z -> images in [0, 1]
      gankit export runs/sushi64 g.pt --format torchscript
      gankit export runs/horse2zebra --direction a2b  # horse2zebra.onnx
      gankit export runs/sushi64 site/ --format web   # open site/ from any static host
    """
    from ..export import export as do_export

    if out_arg and out_opt and out_arg != out_opt:
        raise UsageError(f"OUT {out_arg} and --out {out_opt}: give one")
    for flag, value in (("--out", out_opt), ("OUT", out_arg)):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} '': an empty path; give a file name or leave it out")
    out = out_opt or out_arg
    seeds = parse_seeds(check_seeds, "--check-seeds")
    wseeds = parse_seeds(web_seeds, "--web-seeds") if fmt == "web" else []
    result = do_export(run, fmt, out, direction=direction, uint8=uint8, check_seeds=seeds,
                       tolerance=tolerance, opset=opset, exporter=exporter,
                       web_seeds=wseeds, ort_dir=ort_dir, ema=not no_ema, force=force)
    src = result.source
    for path, check in zip(result.paths, result.checks):
        if fmt == "web":
            x = result.extra
            console.info(f"{src.run_name} (step {src.step}) -> {path}/ ({_size(x['bytes'])}, "
                         f"{x['seeds']} seeds, {x['directions']} direction(s)); "
                         f"{check.line()}; serve it with `python -m http.server -d {path}`")
        else:
            console.info(f"{src.run_name} (step {src.step}) -> {path} "
                         f"({_size(path.stat().st_size)}); {check.line()}")


COMMANDS = [export]
