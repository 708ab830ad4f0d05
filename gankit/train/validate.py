"""A checkpoint checked whole before any of it is loaded.

``gankit train --resume`` hands the checkpoint's training state to torch: the networks'
``load_state_dict``, the optimizers' (whose fused kernels trust that each moment has its
parameter's size: one of another size corrupts memory instead of raising), the random
generators, the batchers, the fixed noise, the scaler, the EMA and the model's own
state. :func:`validate_resume` asks each part of a freshly built trainer's state
(:mod:`gankit.train.parts`) to compare the checkpoint's entry with its own before
anything is loaded: every tensor's dtype and shape from the safetensors header, then the
values that must make sense (finite weights and moments, a permutation that is one,
positions in range, random generator states torch accepts). The generic checks, and
:func:`validate_weights` for the networks ``gankit sample`` and the other readers
rebuild, are in :mod:`gankit.checkpoint_checks`. Anything off is one
:class:`~gankit.CheckpointError` naming the file and the tensor or field.
"""

from __future__ import annotations

from ..bounds import check_numbers
from ..checkpoint_checks import (DTYPES, FLOATS, Checker, _is_info, _is_int, _is_number,
                                 _shape, _what)
from ..checkpoint_checks import validate_weights  # noqa: F401 - its 0.2 home
from ..engine import PRECISIONS
from ..errors import CheckpointError, UsageError


def validate_resume(checkpoint, trainer) -> None:
    """Refuse (one :class:`CheckpointError` line) a checkpoint whose training state does
    not fit ``trainer``, a freshly built trainer of the run, before anything is loaded."""
    from .parts import ABSENT  # parts imports torch; plan() uses this module before torch

    check = ResumeChecker(checkpoint)
    saved = checkpoint.state_info()
    with check.open():
        for part in trainer.state_parts():
            part.check_state(check, saved.get(part.key, ABSENT), part.state_dict())




#: saved options that size what a resume allocates before any tensor is compared
MAX_GRID = 4096
MAX_SEED = 2**62
GRAYSCALE = ("auto", "always", "never")


def validate_saved_options(checkpoint, saved) -> None:
    """A checkpoint's recorded training options (``gankit.train``) before a resume uses
    them: in range (the error names the file, not a flag nobody gave), and nothing that
    would make the resume allocate what the run never did (an image size other than the
    data's, a preview grid of a billion images)."""

    def fail(message):
        raise CheckpointError(f"{checkpoint.path}: its saved training options are out of "
                              f"range ({message})")

    try:
        check_numbers(saved)
    except UsageError as exc:
        fail(str(exc))
    if not -MAX_SEED <= saved.seed <= MAX_SEED:
        fail(f"seed {saved.seed}")
    if saved.grid > MAX_GRID:
        fail(f"grid {saved.grid}: at most {MAX_GRID}")
    if str(saved.precision or "auto").lower() not in PRECISIONS:
        fail(f"precision '{str(saved.precision)[:40]}': one of {', '.join(PRECISIONS)}")
    if saved.grayscale not in GRAYSCALE:
        fail(f"grayscale '{str(saved.grayscale)[:40]}': one of {', '.join(GRAYSCALE)}")
    data = checkpoint.data or {}
    size = data.get("size")
    if (data.get("kind") == "image" and saved.image_size is not None and _is_int(size)
            and saved.image_size != size):
        fail(f"image_size {saved.image_size}, but it was trained on {size}-pixel images")


class ResumeChecker(Checker):
    """:class:`~gankit.checkpoint_checks.Checker` with the optimizers' checks."""

    def optimizer(self, got, opt, fresh: dict, path: str) -> None:
        who = "the optimizer"
        self.container(got, path, dict, who)
        groups = self.container(got.get("param_groups"), f"{path}.param_groups", list, who)
        state = self.container(got.get("state"), f"{path}.state", dict, who)
        if len(groups) != len(fresh["param_groups"]):
            self.fail(f"'{path}.param_groups' has {len(groups)} groups, the optimizer has "
                      f"{len(fresh['param_groups'])}")
        params: dict = {}  # state index -> (parameter, group index)
        for gi, (g, fg, live) in enumerate(zip(groups, fresh["param_groups"], opt.param_groups)):
            gp = f"{path}.param_groups.{gi}"
            self.container(g, gp, dict, who)
            if g.get("params") != fg["params"] or not all(_is_int(i) for i in g["params"]):
                shown = str(g.get("params"))
                self.fail(f"'{gp}.params' is {shown[:60]}{'...' if len(shown) > 60 else ''}, "
                          f"the optimizer's parameters are {str(fg['params'])[:60]}")
            for key, fv in fg.items():
                if key in ("params", "param_names"):
                    continue
                if key not in g:
                    if fv is None or isinstance(fv, bool):
                        continue  # a flag an older torch did not save: torch fills it in
                    self.fail(f"'{gp}.{key}' is missing; the optimizer needs it")
                self.group_value(g[key], fv, f"{gp}.{key}")
            for key, v in g.items():
                if key not in fg:
                    self.anything(v, f"{gp}.{key}")
                    if _is_info(v) or isinstance(v, dict):
                        self.fail(f"'{gp}.{key}' is {_what(v)}, not an optimizer setting")
            for idx, p in zip(fg["params"], live["params"]):
                params[idx] = (p, gi)
        keys_of_group = {gi: self.state_keys(opt, fg, g, f"{path}.param_groups.{gi}")
                         for gi, (g, fg) in enumerate(zip(groups, fresh["param_groups"]))}
        for idx, entry in state.items():
            ep = f"{path}.state.{idx}"
            if not _is_int(idx) or idx not in params:
                self.fail(f"'{ep}': the optimizer has no parameter {str(idx)[:40]}")
            p, gi = params[idx]
            self.container(entry, ep, dict, who)
            for key in sorted(keys_of_group[gi] or ()):
                if key not in entry:
                    self.fail(f"'{ep}.{key}' is missing; the optimizer keeps it per parameter")
            for key, v in entry.items():
                self.moment(v, key, p, f"{ep}.{key}")

    def group_value(self, got, fv, path: str) -> None:
        import torch

        if fv is None or isinstance(fv, bool):
            if got is not None and not isinstance(got, bool):
                self.fail(f"'{path}' is {_what(got)}, the optimizer needs a bool or null")
        elif _is_int(fv) or isinstance(fv, float):
            if not _is_number(got):
                self.fail(f"'{path}' is {_what(got)} ({str(got)[:40]}), the optimizer needs a "
                          "finite number")
            if path.endswith(".lr") and got < 0:
                self.fail(f"'{path}' is {got}, a learning rate must be at least 0")
        elif isinstance(fv, (list, tuple)):
            if not isinstance(got, (list, tuple)) or len(got) != len(fv):
                self.fail(f"'{path}' is {str(got)[:60]}, the optimizer needs {len(fv)} numbers")
            for i, (x, f) in enumerate(zip(got, fv)):
                self.group_value(x, f, f"{path}.{i}")
            if path.endswith(".betas") and not all(0 <= b < 1 for b in got):
                self.fail(f"'{path}' is {list(got)}, each beta must be in [0, 1)")
        elif isinstance(fv, str):
            if not isinstance(got, str):
                self.fail(f"'{path}' is {_what(got)}, the optimizer needs a string")
        elif isinstance(fv, torch.Tensor):
            self.like(got, fv, path, "the optimizer")
        else:
            self.anything(got, path)

    def state_keys(self, opt, fresh_group: dict, group: dict, path: str):
        """The per-parameter state keys ``opt``'s class keeps with this group's flags (one
        step of a throwaway copy on a one-element parameter), or None when the class
        cannot be stepped that way (then the keys are not checked)."""
        kw = {k: v for k, v in fresh_group.items() if k in opt.defaults and k != "params"}
        base = _scratch_keys(type(opt), kw)
        if isinstance(base, Exception):
            return None
        flags = {k: group[k] for k, v in fresh_group.items()
                 if k in kw and k in group and (v is None or isinstance(v, bool))}
        if all(kw.get(k) is v for k, v in flags.items()):
            return base
        keys = _scratch_keys(type(opt), {**kw, **flags})
        if isinstance(keys, Exception):
            first = str(keys).splitlines()[0] if str(keys) else ""
            self.fail(f"'{path}' has settings {type(opt).__name__} cannot run with "
                      f"({type(keys).__name__}: {first[:160]})")
        return keys

    def moment(self, v, key: str, p, path: str) -> None:
        """One per-parameter optimizer value: ``step`` a finite scalar >= 0, the others
        float tensors of the parameter's shape with finite values."""
        if not _is_info(v):
            if key == "step" and _is_number(v) and v >= 0:
                return
            if v is None:
                return
            self.fail(f"'{path}' is {_what(v)} ({str(v)[:40]}), the optimizer needs a tensor")
        dtype = DTYPES.get(v.dtype)
        if key == "step":
            if tuple(v.shape) not in ((), (1,)) or dtype not in FLOATS | {"int64", "int32"}:
                self.fail(f"tensor '{v.name}' is {dtype} {_shape(v.shape)}, the optimizer's "
                          "step count is a number (a scalar)")
            self.finite(v, dtype, low=0)
            return
        if tuple(v.shape) != tuple(p.shape):
            self.fail(f"tensor '{v.name}' has shape {_shape(v.shape)}, the optimizer needs "
                      f"{_shape(p.shape)}")
        if dtype not in FLOATS:
            self.fail(f"tensor '{v.name}' has dtype {dtype or v.dtype}, the optimizer needs "
                      "a float dtype")
        self.finite(v, dtype, low=0 if key.endswith("_sq") else None)


_SCRATCH: dict = {}


def _scratch_keys(cls, kw: dict):
    """The per-parameter state keys of optimizer class ``cls`` with settings ``kw`` after
    one step on a one-element parameter, or the exception it raised."""
    import torch

    try:
        cache_key = (cls, tuple(sorted((k, repr(v)) for k, v in kw.items())))
    except TypeError:
        cache_key = None
    if cache_key in _SCRATCH:
        return _SCRATCH[cache_key]
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    try:
        opt = cls([p], **kw)
        opt.step()
        keys = set(opt.state[p])
    except Exception as exc:  # noqa: BLE001 - whatever this optimizer class raises
        keys = exc
    if cache_key is not None:
        _SCRATCH[cache_key] = keys
    return keys
