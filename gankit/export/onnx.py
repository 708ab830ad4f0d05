"""ONNX export: the wrapper of :mod:`gankit.export.common` traced to an ONNX graph,
gankit's metadata in ``metadata_props``, checked with onnxruntime before the file is
renamed into place.

The graph uses opset :data:`OPSET` (onnxruntime 1.14 and later, onnxruntime-web
included) with a dynamic batch axis ``N`` (and ``H``, ``W`` for translation models).
It is made by torch's TorchScript-based exporter where this torch has it (fast, needs
only ``onnx``), else by the ``torch.export``-based one (needs ``onnxscript``).
"""

from __future__ import annotations

import io
import warnings

from ..errors import GankitError
from ..files import atomic_write
from .common import Layout, Source, check_inputs, require, run_check, wrapper

OPSET = 18
EXPORTERS = ("auto", "torchscript", "dynamo")


def _legacy(net, example, lay: Layout, opset: int) -> bytes:
    import torch

    buf = io.BytesIO()
    axes = {lay.input: dict(lay.dynamic), lay.output: dict(lay.dynamic)}
    if lay.labels:
        axes[lay.labels] = {0: "N"}
    args = example if isinstance(example, tuple) else (example,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, args, buf, input_names=lay.inputs,
                          output_names=[lay.output], dynamic_axes=axes, opset_version=opset,
                          do_constant_folding=True, dynamo=False)
    return buf.getvalue()


def _dynamo(net, example, lay: Layout, opset: int) -> bytes:
    import torch

    require("onnxscript")
    dim = getattr(torch.export.Dim, "AUTO", None)
    shapes = {"z" if lay.input == "z" else "images":
              {axis: (dim if dim is not None else torch.export.Dim(name))
               for axis, name in lay.dynamic.items()}}
    if lay.labels:
        shapes["labels"] = {0: dim if dim is not None else torch.export.Dim("N")}
    args = example if isinstance(example, tuple) else (example,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(net, args, None, input_names=lay.inputs,
                                    output_names=[lay.output], dynamic_shapes=shapes,
                                    opset_version=opset, dynamo=True, external_data=False,
                                    verbose=False)
    return program.model_proto.SerializeToString()


def to_onnx(net, example, lay: Layout, opset: int = OPSET, exporter: str = "auto") -> bytes:
    """The serialized ONNX model of ``net`` traced on ``example``."""
    if exporter == "dynamo":
        return _dynamo(net, example, lay, opset)
    try:
        return _legacy(net, example, lay, opset)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds here
        if exporter == "torchscript":
            raise GankitError(f"ONNX export failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        try:  # a torch without the TorchScript-based exporter, or a model it cannot trace
            return _dynamo(net, example, lay, opset)
        except GankitError:
            raise
        except Exception:  # noqa: BLE001
            raise GankitError(f"ONNX export failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def with_metadata(data: bytes, meta: dict, doc: str):
    """The ONNX model with gankit's metadata, checked by onnx's checker."""
    onnx = require("onnx")
    from .. import __version__

    model = onnx.load_from_string(data)
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "gankit"
    model.producer_version = __version__
    model.doc_string = doc
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - onnx's ValidationError and friends
        raise GankitError(f"the exported ONNX graph is not valid ({str(exc).splitlines()[0]})") from None
    return model


def read_metadata(path) -> dict[str, str]:
    """gankit's metadata of an exported ONNX file (``metadata_props``)."""
    onnx = require("onnx")

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def session(path):
    ort = require("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def export_onnx(src: Source, path, *, uint8: bool, direction: str | None, lay: Layout,
                meta: dict, seeds, tolerance: float, opset: int = OPSET,
                exporter: str = "auto", progress=None):
    """Write ``path`` (atomically) after onnxruntime reproduced PyTorch on ``seeds``.
    Returns the :class:`~gankit.export.common.Check`."""
    require("onnx")
    require("onnxruntime")
    labels = bool(lay.labels)
    net = wrapper(src, uint8, direction, labels)
    example = check_inputs(src, seeds[:2] if len(seeds) > 1 else seeds * 2, uint8, direction,
                           labels)[0]
    data = to_onnx(net, example, lay, opset, exporter)
    if progress:
        progress()
    doc = (f"gankit {src.model.name} generator (run {src.run_name}, step {src.step}): "
           f"{lay.input} {lay.input_type} {lay.input_shape}"
           + (f", {lay.labels} int64 ['N']" if lay.labels else "") + " -> "
           f"{lay.output} {lay.output_type} "
           f"{lay.output_shape}")
    model = with_metadata(data, {**meta, "gankit.opset": str(opset)}, doc)
    result = {}

    def write(tmp):
        import onnx

        onnx.save(model, tmp)
        sess = session(tmp)
        def run(x):
            feed = dict(zip(lay.inputs, (t.numpy() for t in (x if labels else (x,)))))
            return sess.run(None, feed)[0]

        result["check"] = run_check(src, seeds, uint8, direction, run, "onnxruntime",
                                    tolerance, path, labels)

    atomic_write(path, write)
    if progress:
        progress()
    return result["check"]
