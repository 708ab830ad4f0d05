"""TorchScript export: the wrapper of :mod:`gankit.export.common` traced with
``torch.jit.trace`` and written with ``torch.jit.save`` (a TorchScript archive, read back
with ``torch.jit.load``; no Python object is pickled), gankit's metadata as the extra
file ``gankit.json``. Checked with ``torch.jit.load`` before the file is renamed into place.
"""

from __future__ import annotations

import json
import warnings

from ..errors import GankitError
from ..files import atomic_write
from .common import Layout, Source, check_inputs, run_check, wrapper

EXTRA_FILE = "gankit.json"


def read_metadata(path) -> dict[str, str]:
    """gankit's metadata of an exported TorchScript file."""
    import torch

    extra = {EXTRA_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return json.loads(extra[EXTRA_FILE] or "{}")


def export_torchscript(src: Source, path, *, uint8: bool, direction: str | None, lay: Layout,
                       meta: dict, seeds, tolerance: float, progress=None):
    import torch

    labels = bool(lay.labels)
    net = wrapper(src, uint8, direction, labels)
    example = check_inputs(src, seeds[:2] if len(seeds) > 1 else seeds * 2, uint8, direction,
                           labels)[0]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(net, example if labels else (example,), check_trace=False)
    except Exception as exc:  # noqa: BLE001 - the tracer raises many kinds
        raise GankitError(f"TorchScript export failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if progress:
        progress()
    extra = {EXTRA_FILE: json.dumps(meta, indent=1)}
    result = {}

    def write(tmp):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(traced, tmp, _extra_files=extra)
            back = {EXTRA_FILE: ""}
            loaded = torch.jit.load(tmp, map_location="cpu", _extra_files=back)
        if json.loads(back[EXTRA_FILE]) != meta:
            raise GankitError(f"{path}: the metadata did not survive torch.jit.save")

        def run(x):
            with torch.no_grad():
                return (loaded(*x) if labels else loaded(x)).numpy()

        result["check"] = run_check(src, seeds, uint8, direction, run, "torch.jit", tolerance,
                                    path, labels)

    atomic_write(path, write)
    if progress:
        progress()
    return result["check"]
