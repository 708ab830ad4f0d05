"""Checkpoints: self-describing safetensors files, written atomically.

A checkpoint holds tensors only; everything else lives in its string metadata:

``gankit.format``   format version of this layout (``FORMAT``)
``gankit.model``    registered model name; ``gankit.model_version`` its version
``gankit.plugin``   the plugin that registered it, ``gankit.plugin_version``
``gankit.config``   JSON of the model's Config
``gankit.train``    JSON of the run's training options
``gankit.data``     JSON of the DataSpec
``gankit.step``     global step
``gankit.names``    JSON of the qualified names (``PLUGIN:NAME``) of the run's model, loss
                    and data sets, which ``--resume`` and ``gankit sample`` look up
``gankit.state``    JSON skeleton of the nested training state, whose tensors are
                    stored under the names it references (optimizers, RNG, pools)

Nothing is ever unpickled. Files are written to a temporary name in the same folder,
flushed, fsynced and renamed into place, so a crash leaves the previous file intact.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import NamedTuple

from .errors import CheckpointError
from .compat import moved
from .files import atomic_write as _atomic_write

FORMAT = 1
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 4 * 1024 * 1024


# -- nested state <-> flat tensors + JSON ----------------------------------------------


def flatten_state(obj, prefix: str, tensors: dict):
    """Replace every tensor in a nested dict/list by ``{"__t__": key}``; collect tensors."""
    import torch

    if isinstance(obj, torch.Tensor):
        key = prefix
        t = obj.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        if t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()  # a view into a larger storage: safetensors wants it alone
        tensors[key] = t
        return {"__t__": key}
    if isinstance(obj, dict):
        return {"__d__": [[_key_json(k), flatten_state(v, f"{prefix}.{k}", tensors)]
                          for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__l__": [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint ({prefix})")


def _key_json(k):
    if isinstance(k, (str, int)):
        return k
    raise TypeError(f"checkpoint state keys must be str or int, got {type(k).__name__}")


def unflatten_state(skel, tensors: dict):
    if isinstance(skel, dict):
        if "__t__" in skel:
            key = skel["__t__"]
            if key not in tensors:
                raise CheckpointError(f"tensor '{key}' is missing")
            return tensors[key]
        if "__d__" in skel:
            return {k: unflatten_state(v, tensors) for k, v in skel["__d__"]}
        if "__l__" in skel:
            items = [unflatten_state(v, tensors) for v in skel["__l__"]]
            return tuple(items) if skel.get("tuple") else items
        raise CheckpointError("malformed state skeleton")
    return skel


# -- reading and writing ------------------------------------------------------------------


def save(path: Path, tensors: dict, metadata: dict) -> None:
    from safetensors.torch import save_file

    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in metadata.items()}
    meta.setdefault("gankit.format", str(FORMAT))
    from safetensors import SafetensorError

    try:
        _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))
    except (OSError, SafetensorError) as exc:  # safetensors reports ENOSPC as its own error
        raise CheckpointError(f"{path}: cannot write checkpoint ({_write_reason(exc)}); "
                              "the previous checkpoints are kept") from exc


def _write_reason(exc: BaseException) -> str:
    """'No space left on device' from an OSError or from safetensors' 'Error while
    serializing: I/O error: No space left on device (os error 28)'."""
    import os
    import re

    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    m = re.search(r"os error (\d+)", str(exc))
    if m:
        return os.strerror(int(m.group(1)))
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def read_header(path: Path) -> dict:
    """Parse and sanity-check a safetensors header without loading any tensor."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a .safetensors file")
    import stat as _stat

    try:
        regular = _stat.S_ISREG(path.stat().st_mode)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not regular:  # a FIFO or a device would block or never end
        raise CheckpointError(f"{path}: not a regular file (a pipe or a device?)")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise CheckpointError(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", raw)
            size = path.stat().st_size
            if n > MAX_HEADER_BYTES or n + 8 > size:
                raise CheckpointError(
                    f"{path}: not a safetensors file or truncated (header of {n} bytes)"
                )
            header = fh.read(n)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        parsed = json.loads(header)
    except (UnicodeDecodeError, ValueError, RecursionError):  # hostile nesting too
        raise CheckpointError(f"{path}: not a safetensors file (bad header)") from None
    if not isinstance(parsed, dict):
        raise CheckpointError(f"{path}: not a safetensors file (bad header)")
    end = 0
    for key, info in parsed.items():
        if key == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, ValueError, IndexError, OverflowError):
            raise CheckpointError(f"{path}: not a safetensors file (bad tensor entry)") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: truncated ({size} bytes, needs {8 + n + end})")
    meta = parsed.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path}: bad safetensors metadata")
    if sum(len(v) for v in meta.values()) > MAX_METADATA_BYTES:
        raise CheckpointError(f"{path}: metadata too large to be a gankit checkpoint")
    return meta


def _json_field(meta: dict, key: str, path, kind=dict):
    raw = meta.get(key)
    if raw is None:
        raise CheckpointError(f"{path}: metadata has no '{key}'; not a gankit checkpoint?")
    try:
        val = json.loads(raw)
    except (ValueError, RecursionError):
        raise CheckpointError(f"{path}: metadata '{key}' is not valid JSON") from None
    if not isinstance(val, kind):
        raise CheckpointError(f"{path}: metadata '{key}' has the wrong type")
    return val


class TensorInfo(NamedTuple):
    """A stored tensor as its header describes it: full name, shape, safetensors dtype."""

    name: str
    shape: tuple
    dtype: str


class Checkpoint:
    """A checkpoint's parsed metadata, with lazy access to its tensors."""

    def __init__(self, path: Path):
        self.path = Path(path)
        meta = read_header(self.path)
        if "gankit.format" not in meta:
            raise CheckpointError(f"{self.path}: a safetensors file, but not a gankit checkpoint")
        try:
            fmt = int(meta["gankit.format"])
        except ValueError:
            raise CheckpointError(f"{self.path}: bad gankit.format '{meta['gankit.format'][:40]}'") from None
        if fmt > FORMAT:
            raise CheckpointError(
                f"{self.path}: written by a newer gankit (format {fmt}, this one reads {FORMAT}); "
                "upgrade gankit"
            )
        self.metadata = meta
        self.model = meta.get("gankit.model", "")
        if not self.model or not isinstance(self.model, str):
            raise CheckpointError(f"{self.path}: metadata names no model")
        try:
            self.step = int(meta.get("gankit.step", "0"))
        except ValueError:
            raise CheckpointError(f"{self.path}: bad gankit.step '{meta.get('gankit.step')[:40]}'") from None
        if self.step < 0:
            raise CheckpointError(f"{self.path}: bad gankit.step {self.step}")
        self.config = _json_field(meta, "gankit.config", self.path)
        self.train = _json_field(meta, "gankit.train", self.path) if "gankit.train" in meta else {}
        self.data = _json_field(meta, "gankit.data", self.path)
        self.plugin = meta.get("gankit.plugin")
        self.plugin_version = meta.get("gankit.plugin_version")
        self.model_version = meta.get("gankit.model_version", "1")

    def shapes(self, prefix: str = "") -> dict:
        """Tensor name (without ``prefix``) -> shape, from the header only (no data read)."""
        from safetensors import safe_open

        try:
            with safe_open(str(self.path), framework="pt", device="cpu") as fh:
                return {k[len(prefix):]: tuple(fh.get_slice(k).get_shape())
                        for k in fh.keys() if k.startswith(prefix)}
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
            raise CheckpointError(f"{self.path}: cannot read tensors ({exc})") from None

    def dtypes(self, prefix: str = "") -> dict:
        """Tensor name (without ``prefix``) -> safetensors dtype name (``"F32"``, ``"I64"``,
        ``"U8"``...), from the header only (no data read)."""
        return {k: v.dtype for k, v in self.tensor_info(prefix).items()}

    def tensor_info(self, prefix: str = "") -> dict:
        """Tensor name (without ``prefix``) -> :class:`TensorInfo` (full name, shape and
        safetensors dtype name), from the header only (no data read)."""
        from safetensors import safe_open

        try:
            with safe_open(str(self.path), framework="pt", device="cpu") as fh:
                out = {}
                for k in fh.keys():
                    if k.startswith(prefix):
                        sl = fh.get_slice(k)
                        out[k[len(prefix):]] = TensorInfo(k, tuple(sl.get_shape()),
                                                          str(sl.get_dtype()))
                return out
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
            raise CheckpointError(f"{self.path}: cannot read tensors ({exc})") from None

    def tensors(self, prefix: str = "", device="cpu") -> dict:
        from safetensors import safe_open

        out = {}
        try:
            with safe_open(str(self.path), framework="pt", device=str(device)) as fh:
                for key in fh.keys():
                    if key.startswith(prefix):
                        out[key[len(prefix):]] = fh.get_tensor(key)
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
            raise CheckpointError(f"{self.path}: cannot read tensors ({exc})") from None
        return out

    def state(self) -> dict:
        return self._unflatten(self.tensors())

    def state_layout(self) -> dict:
        """The training state's structure with each tensor's shape in its place, from the
        header alone (nothing is read into memory): for checks before loading."""
        return self._unflatten(self.shapes())

    def state_info(self) -> dict:
        """Like :meth:`state_layout`, with a :class:`TensorInfo` (name, shape, dtype) in
        each tensor's place: what :mod:`gankit.train.validate` checks before a resume."""
        return self._unflatten(self.tensor_info())

    def _unflatten(self, tensors: dict) -> dict:
        skel = _json_field(self.metadata, "gankit.state", self.path)
        try:
            state = unflatten_state(skel, tensors)
        except CheckpointError as exc:  # a tensor the skeleton names is not in the file
            raise CheckpointError(f"{self.path}: {exc}") from None
        except (TypeError, ValueError, AttributeError, RecursionError):  # an edited skeleton
            raise CheckpointError(f"{self.path}: metadata 'gankit.state' is malformed") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{self.path}: metadata 'gankit.state' is malformed")
        return state


# 0.1 names: atomic_write (each use warns; its home is gankit.files) and the run-folder
# helpers, whose home is gankit.run's Run (served from gankit.legacy, so this module does
# not import gankit.run)
__getattr__ = moved(__name__, {
    "atomic_write": "gankit.files:atomic_write",
    **{n: f"gankit.legacy:{n}" for n in ("checkpoint_path", "list_checkpoints", "prune",
                                         "latest_loadable", "remove_stale_temps")},
}, quiet=("checkpoint_path", "list_checkpoints", "prune", "latest_loadable",
          "remove_stale_temps"))
