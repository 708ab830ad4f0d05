"""A checkpoint checked whole before any of it is loaded.

``gankit train --resume`` hands the checkpoint's training state to torch: the networks'
``load_state_dict``, the optimizers' (whose fused kernels trust that each moment has its
parameter's size: one of another size corrupts memory instead of raising), the random
generators, the batchers, the fixed noise, the scaler, the EMA and the model's own
state. :func:`validate_resume` compares every piece of it with what a freshly built
trainer holds (its own ``trainer.state()`` is the template) before anything is loaded:
every tensor's dtype and shape from the safetensors header, then the values that must
make sense (finite weights and moments, a permutation that is one, positions in range,
random generator states torch accepts). :func:`validate_weights` does the same for the
networks ``gankit sample`` and the other readers rebuild. Anything off is one
:class:`~gankit.CheckpointError` naming the file and the tensor or field.
"""

from __future__ import annotations

import math

from ..errors import CheckpointError

#: safetensors dtype names -> torch dtype names
DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
          "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
          "BOOL": "bool", "U16": "uint16", "U32": "uint32", "U64": "uint64",
          "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
FLOATS = {"float64", "float32", "float16", "bfloat16"}
#: dtypes a tensor may have where the fresh trainer has no tensor to compare with
PLAIN = FLOATS | {"int64", "int32", "int16", "int8", "uint8", "bool"}


def validate_resume(checkpoint, trainer) -> None:
    """Refuse (one :class:`CheckpointError` line) a checkpoint whose training state does
    not fit ``trainer``, a freshly built trainer of the run, before anything is loaded."""
    v = _Validator(checkpoint)
    state = checkpoint.state_info()
    template = trainer.state()
    with v.open():
        v.resume(state, template, trainer)


def validate_weights(checkpoint, nets: dict, weights: dict | None = None) -> None:
    """Refuse a checkpoint whose stored networks ``nets`` (name -> module, as built for
    loading) have tensors of another name, shape or dtype, or NaN/inf values; the EMA
    copies (``s.ema.NAME``) too where the file has them. ``weights`` are the
    ``s.nets.`` tensors when the caller has read them already."""
    v = _Validator(checkpoint)
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


#: saved options that size what a resume allocates before any tensor is compared
MAX_GRID = 4096
MAX_SEED = 2**62
GRAYSCALE = ("auto", "always", "never")


def validate_saved_options(checkpoint, saved) -> None:
    """A checkpoint's recorded training options (``gankit.train``) before a resume uses
    them: in range (the error names the file, not a flag nobody gave), and nothing that
    would make the resume allocate what the run never did (an image size other than the
    data's, a preview grid of a billion images)."""
    from ..errors import UsageError
    from .plan import check_numbers

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
    from ..engine import PRECISIONS

    if str(saved.precision or "auto").lower() not in PRECISIONS:
        fail(f"precision '{str(saved.precision)[:40]}': one of {', '.join(PRECISIONS)}")
    if saved.grayscale not in GRAYSCALE:
        fail(f"grayscale '{str(saved.grayscale)[:40]}': one of {', '.join(GRAYSCALE)}")
    data = checkpoint.data or {}
    size = data.get("size")
    if (data.get("kind") == "image" and saved.image_size is not None and _is_int(size)
            and saved.image_size != size):
        fail(f"image_size {saved.image_size}, but it was trained on {size}-pixel images")


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
    from ..checkpoints import TensorInfo

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


class _Validator:
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

    # -- the training state ----------------------------------------------------------------
    def resume(self, s: dict, tmpl: dict, trainer) -> None:
        import torch

        step = self.integer(s.get("step"), "s.step", 0)
        if step != self.c.step:
            self.fail(f"'s.step' is {step} but the metadata says gankit.step {self.c.step}")

        nets = self.container(s.get("nets"), "s.nets", dict, "the run")
        for name, sd in tmpl["nets"].items():
            if name not in nets:
                self.fail(f"'s.nets.{name}' is missing; the run trains network '{name}'")
            self.state_dict(nets[name], sd, f"s.nets.{name}", f"network '{name}'")

        if s.get("ema") is not None:
            ema = self.container(s["ema"], "s.ema", dict, "the run")
            fresh = tmpl.get("ema") or {}
            for name, sd in ema.items():
                ref = fresh.get(name, tmpl["nets"].get(name))
                if ref is None:
                    self.fail(f"'s.ema.{name}': the model has no network '{name}'")
                self.state_dict(sd, ref, f"s.ema.{name}", f"the EMA of network '{name}'")

        opts = self.container(s.get("opts"), "s.opts", dict, "the run")
        for name, opt in trainer.opts.items():
            if name not in opts:
                self.fail(f"'s.opts.{name}' is missing; the run has optimizer '{name}'")
            self.optimizer(opts[name], opt, tmpl["opts"][name], f"s.opts.{name}")

        scheds = s.get("scheds")
        if scheds is not None:
            self.container(scheds, "s.scheds", dict, "the run")
            for name in trainer.scheds:
                if name in scheds:
                    self.loose(scheds[name], tmpl["scheds"][name], f"s.scheds.{name}",
                               f"scheduler '{name}'", same_length=True)

        rng = self.container(s.get("rng"), "s.rng", dict, "the run")
        if "cpu" not in rng:
            self.fail("tensor 's.rng.cpu' is missing (the random generator's state)")
        self.like(rng["cpu"], tmpl["rng"]["cpu"], "s.rng.cpu", "the random generator")
        if "cuda" in tmpl["rng"] and "cuda" in rng:
            self.like(rng["cuda"], tmpl["rng"]["cuda"], "s.rng.cuda", "the CUDA generator")

        for key, b in trainer.batchers.items():
            if key in s:
                self.batcher(s[key], b, tmpl[key], f"s.{key}")

        if "fixed_noise" in s:
            ref = tmpl.get("fixed_noise")
            if ref is None or isinstance(ref, torch.Tensor):
                self.fixed_noise(s["fixed_noise"], ref)
            else:  # a model whose preview inputs are not one tensor
                self.loose(s["fixed_noise"], ref, "s.fixed_noise", "the preview inputs")

        if trainer.scaler is not None and s.get("scaler") is not None:
            self.loose(s["scaler"], tmpl["scaler"], "s.scaler", "the gradient scaler")
            scale = s["scaler"].get("scale") if isinstance(s["scaler"], dict) else None
            if _is_number(scale) and scale <= 0:
                self.fail(f"'s.scaler.scale' is {scale}, it must be positive")

        if s.get("extra") is not None:
            self.container(s["extra"], "s.extra", dict, "the model")
            self.loose(s["extra"], tmpl.get("extra") or {}, "s.extra",
                       f"model '{trainer.model.name}'")
            self.model_check(s["extra"], trainer)

        if s.get("augment") is not None:
            aug = self.container(s["augment"], "s.augment", dict, "the augmentation")
            self.loose(aug, tmpl.get("augment") or {}, "s.augment", "the augmentation")
            p = aug.get("p")
            if p is not None:
                if not _is_info(p) or tuple(p.shape) != () or DTYPES.get(p.dtype) not in FLOATS:
                    self.fail("'s.augment.p' must be a scalar float tensor")
                self.finite(p, low=0.0, high=1.0)

    def model_check(self, extra: dict, trainer) -> None:
        """A model's own check of its extra state, for what a fresh trainer cannot show
        (an image pool is empty until the run trains): an optional
        ``check_state(extra)`` on the model or its per-run state, given the state with a
        :class:`~gankit.checkpoints.TensorInfo` (name, shape, dtype) in each tensor's
        place, raising ``GankitError`` or ``ValueError`` with a one-line reason."""
        from ..errors import GankitError

        for owner in (trainer.model, trainer.run_state):
            if owner is None:
                continue
            try:
                owner.check_state(extra)
            except (GankitError, ValueError, TypeError, KeyError, AttributeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.fail(f"model '{trainer.model.name}' cannot resume from its extra state "
                          f"({reason})")

    def fixed_noise(self, got, tmpl) -> None:
        if tmpl is None:
            self.fail("'s.fixed_noise': this model keeps no fixed noise")
        dtype = self.tensor(got, "s.fixed_noise", "the fixed noise")
        shape, want = tuple(got.shape), tuple(tmpl.shape)
        if len(shape) != len(want) or shape[1:] != want[1:] or not shape or shape[0] < 1:
            self.fail(f"tensor 's.fixed_noise' has shape {_shape(shape)}, the model's latent "
                      f"needs [N, {', '.join(map(str, want[1:]))}]")
        if dtype != _dtype(tmpl):
            self.fail(f"tensor 's.fixed_noise' has dtype {dtype}, the model's latent needs "
                      f"{_dtype(tmpl)}")
        self.finite(got, dtype)

    def batcher(self, got, b, tmpl: dict, path: str) -> None:
        import torch

        who = "the batcher"
        self.container(got, path, dict, who)
        for key in ("gen", "perm", "pos", "epoch"):
            if key not in got:
                self.fail(f"'{path}.{key}' is missing")
        self.like(got["gen"], tmpl["gen"], f"{path}.gen", "the batcher's random generator")
        perm = got["perm"]
        dtype = self.tensor(perm, f"{path}.perm", who)
        if dtype != "int64" or len(perm.shape) != 1:
            self.fail(f"tensor '{perm.name}' is {dtype} {_shape(perm.shape)}, the batcher "
                      f"needs an int64 permutation of the data's {b.n} indices")
        if perm.shape[0] != b.n:
            self.fail(f"tensor '{perm.name}' orders {perm.shape[0]} samples but the data set "
                      f"now has {b.n}; resume with the same data or start a new run")
        t = self.read(perm)
        if t.numel():
            low, high = int(t.min()), int(t.max())
            if low < 0 or high >= b.n:
                bad = low if low < 0 else high
                self.fail(f"tensor '{perm.name}' holds index {bad}, outside the data's "
                          f"0..{b.n - 1}")
            counts = torch.bincount(t, minlength=b.n)
            if bool((counts != 1).any()):
                dup = int(torch.nonzero(counts > 1)[0])
                self.fail(f"tensor '{perm.name}' is not a permutation of the data's indices "
                          f"(index {dup} appears {int(counts[dup])} times)")
        self.integer(got["pos"], f"{path}.pos", 0, b.n)
        self.integer(got["epoch"], f"{path}.epoch", 0)

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
