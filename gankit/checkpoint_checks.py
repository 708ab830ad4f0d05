"""Generic checks of a checkpoint's tensors before any of them is loaded.

:class:`Checker` compares what a checkpoint holds with a template (a freshly built
object's state): every tensor's dtype and shape from the safetensors header, finite
values, random generator states torch accepts, ints in range, containers of the right
kind. :func:`validate_weights` checks the networks ``gankit sample`` and the other
readers rebuild; the training state's own checks (optimizers, batchers...) build on
:class:`Checker` in :mod:`gankit.train.validate`. Anything off is one
:class:`~gankit.CheckpointError` naming the file and the tensor or field.
"""

from __future__ import annotations

import math

from .checkpoints import TensorInfo
from .errors import CheckpointError

#: safetensors dtype names -> torch dtype names
DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
          "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
          "BOOL": "bool", "U16": "uint16", "U32": "uint32", "U64": "uint64",
          "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
FLOATS = {"float64", "float32", "float16", "bfloat16"}
#: dtypes a tensor may have where the fresh trainer has no tensor to compare with
PLAIN = FLOATS | {"int64", "int32", "int16", "int8", "uint8", "bool"}



def validate_weights(checkpoint, nets: dict, weights: dict | None = None) -> None:
    """Refuse a checkpoint whose stored networks ``nets`` (name -> module, as built for
    loading) have tensors of another name, shape or dtype, or NaN/inf values; the EMA
    copies (``s.ema.NAME``) too where the file has them. ``weights`` are the
    ``s.nets.`` tensors when the caller has read them already."""
    v = Checker(checkpoint)
    info = checkpoint.tensor_info("s.")
    with v.open(read_already={f"s.nets.{k}": t for k, t in (weights or {}).items()}):
        for where in ("nets", "ema"):
            for name, net in nets.items():
                prefix = f"{where}.{name}."
                got = {k[len(prefix):]: i for k, i in info.items() if k.startswith(prefix)}
                if where == "ema" and not got:
                    continue
                v.state_dict(got, net.state_dict(), f"s.{where}.{name}",
                             f"network '{name}'")


# -- helpers ----------------------------------------------------------------------------


def _shape(shape) -> str:
    return str([int(n) for n in shape])


def _what(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, (list, tuple)):
        return "a list"
    if _is_info(value):
        return "a tensor"
    return type(value).__name__


def _is_info(value) -> bool:
    return isinstance(value, TensorInfo)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _dtype(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def _generator_state_size() -> int:
    import torch

    return int(torch.Generator().get_state().numel())



class Checker:
    """The checks of one checkpoint file, which it keeps open while checking."""

    is_info = staticmethod(_is_info)
    is_int = staticmethod(_is_int)
    is_number = staticmethod(_is_number)

    @staticmethod
    def is_float(info) -> bool:
        """A tensor (TensorInfo) of a floating dtype."""
        return DTYPES.get(info.dtype) in FLOATS

    def __init__(self, checkpoint):
        self.c = checkpoint
        self.fh = None
        self.read_already: dict = {}
        self.gen_size = _generator_state_size()

    # -- reading ---------------------------------------------------------------------------
    def open(self, read_already: dict | None = None):
        """Keep the file open while checking; ``read_already``: full tensor name -> the
        tensor the caller has read (not read again)."""
        import contextlib

        from safetensors import safe_open

        @contextlib.contextmanager
        def opened():
            self.read_already = dict(read_already or {})
            try:
                fh = safe_open(str(self.c.path), framework="pt", device="cpu")
            except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
                self.fail(f"cannot read tensors ({exc})")
            with fh:
                self.fh = fh
                try:
                    yield self
                finally:
                    self.fh = None

        return opened()

    def read(self, info):
        t = self.read_already.get(info.name)
        if t is not None:
            return t
        try:
            return self.fh.get_tensor(info.name)
        except Exception as exc:  # noqa: BLE001
            self.fail(f"cannot read tensor '{info.name}' ({exc})")

    def fail(self, message: str):
        raise CheckpointError(f"{self.c.path}: {message}")

    # -- single values ---------------------------------------------------------------------
    def tensor(self, got, path: str, who: str):
        """``got`` must be a tensor (TensorInfo); returns its torch dtype name."""
        if not _is_info(got):
            self.fail(f"'{path}' is {_what(got)}, {who} needs a tensor")
        dtype = DTYPES.get(got.dtype)
        if dtype is None:
            self.fail(f"tensor '{got.name}' has dtype {got.dtype}, which gankit does not store")
        return dtype

    def like(self, got, tmpl, path: str, who: str) -> None:
        """A tensor with the template tensor's shape and dtype, finite if floating."""
        dtype = self.tensor(got, path, who)
        if tuple(got.shape) != tuple(tmpl.shape):
            self.fail(f"tensor '{got.name}' has shape {_shape(got.shape)}, {who} needs "
                      f"{_shape(tmpl.shape)}")
        if dtype != _dtype(tmpl):
            self.fail(f"tensor '{got.name}' has dtype {dtype}, {who} needs {_dtype(tmpl)}")
        if dtype == "uint8" and len(tmpl.shape) == 1 and tmpl.numel() == self.gen_size:
            self.generator_state(got)
        self.finite(got, dtype)

    def finite(self, got, dtype: str | None = None, low=None, high=None) -> None:
        import torch

        dtype = dtype or DTYPES.get(got.dtype)
        if dtype not in FLOATS and low is None and high is None:
            return
        t = self.read(got)
        if dtype in FLOATS:
            bad = ~torch.isfinite(t)
            if bool(bad.any()):
                self.fail(f"tensor '{got.name}' holds {int(bad.sum())} non-finite value(s) "
                          "(NaN or inf)")
        if t.numel() and low is not None and bool((t < low).any()):
            self.fail(f"tensor '{got.name}' holds values below {low}")
        if t.numel() and high is not None and bool((t > high).any()):
            self.fail(f"tensor '{got.name}' holds values above {high}")

    def generator_state(self, got) -> None:
        """A random generator's state: torch checks it on a throwaway generator."""
        import torch

        try:
            torch.Generator().set_state(self.read(got).clone())
        except (RuntimeError, TypeError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.fail(f"tensor '{got.name}' is not a valid random generator state ({first})")

    def integer(self, got, path: str, low: int, high: int | None = None) -> int:
        if not _is_int(got):
            self.fail(f"'{path}' is {_what(got)} ({str(got)[:40]}), it must be an int")
        if got < low or (high is not None and got > high):
            where = f"in [{low}, {high}]" if high is not None else f"at least {low}"
            self.fail(f"'{path}' is {got}, it must be {where}")
        return got

    def container(self, got, path: str, kind, who: str):
        if not isinstance(got, kind):
            want = "a dict" if kind is dict else "a list"
            self.fail(f"'{path}' is {_what(got)}, {who} needs {want}")
        return got

    # -- structures ------------------------------------------------------------------------
    def state_dict(self, got, tmpl: dict, path: str, who: str) -> None:
        """A module's state dict: the same names, each with its shape and dtype, finite."""
        self.container(got, path, dict, who)
        for k, t in tmpl.items():
            if k not in got:
                self.fail(f"tensor '{path}.{k}' is missing; {who} needs it")
        for k in got:
            if k not in tmpl:
                self.fail(f"'{path}.{k}' is not part of {who}")
        for k, t in tmpl.items():
            self.like(got[k], t, f"{path}.{k}", who)

    def loose(self, got, tmpl, path: str, who: str, *, same_length: bool = False) -> None:
        """State whose template is a freshly built object's: tensors as the template's,
        values of the template's kind; missing dict keys are left to the loader."""
        import torch

        if isinstance(tmpl, torch.Tensor):
            self.like(got, tmpl, path, who)
        elif tmpl is None:
            self.anything(got, path)
        elif isinstance(tmpl, bool):
            if not isinstance(got, bool):
                self.fail(f"'{path}' is {_what(got)}, {who} needs a bool")
        elif _is_int(tmpl):
            if not _is_int(got):
                self.fail(f"'{path}' is {_what(got)} ({str(got)[:40]}), {who} needs an int")
        elif isinstance(tmpl, float):
            if not _is_number(got):
                self.fail(f"'{path}' is {_what(got)} ({str(got)[:40]}), {who} needs a "
                          "finite number")
        elif isinstance(tmpl, str):
            if not isinstance(got, str):
                self.fail(f"'{path}' is {_what(got)}, {who} needs a string")
        elif isinstance(tmpl, dict):
            self.container(got, path, dict, who)
            for k, v in got.items():
                self.loose(v, tmpl.get(k), f"{path}.{k}", who, same_length=same_length)
        elif isinstance(tmpl, (list, tuple)):
            self.container(got, path, (list, tuple), who)
            if same_length and len(got) != len(tmpl):
                self.fail(f"'{path}' has {len(got)} entries, {who} needs {len(tmpl)}")
            for i, v in enumerate(got):
                self.loose(v, tmpl[i] if i < len(tmpl) else None, f"{path}.{i}", who,
                           same_length=same_length)
        else:
            self.anything(got, path)

    def anything(self, got, path: str) -> None:
        """Where the fresh trainer holds nothing to compare with: plain values, and
        tensors of a plain dtype with finite values."""
        if _is_info(got):
            dtype = DTYPES.get(got.dtype)
            if dtype not in PLAIN:
                self.fail(f"tensor '{got.name}' has dtype {got.dtype}, which gankit does not "
                          "store")
            self.finite(got, dtype)
        elif isinstance(got, dict):
            for k, v in got.items():
                self.anything(v, f"{path}.{k}")
        elif isinstance(got, (list, tuple)):
            for i, v in enumerate(got):
                self.anything(v, f"{path}.{i}")
        elif isinstance(got, float) and not math.isfinite(got):
            self.fail(f"'{path}' is {got}, it must be a finite number")
