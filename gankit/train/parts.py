"""The trainer's state as one ordered list of parts.

Each part is one top-level entry of a checkpoint's training state (``s.nets``,
``s.opts``, ``s.batcher``...) and knows three things:

- ``state_dict()``: the entry, or :data:`ABSENT` when the run keeps nothing there (no
  EMA, no augmentation, no gradient scaler);
- ``load_state_dict(saved)``: put the entry back (``saved`` is :data:`ABSENT` when the
  checkpoint has none: each part decides whether that is allowed);
- ``check_state(check, saved, fresh)``: before anything is loaded, refuse an entry that
  cannot fit (``saved`` as the safetensors header describes it, tensors as
  :class:`~gankit.checkpoints.TensorInfo`; ``fresh`` is ``state_dict()`` of the freshly
  built trainer; ``check`` is a :class:`gankit.train.validate.ResumeChecker`).

:func:`gankit.train.state.collect`, :func:`~gankit.train.state.restore` and
:func:`gankit.train.validate.validate_resume` are loops over :func:`parts`. The list is
in the order a resume loads: networks before their EMA copies, the random generators
after everything that could draw from them, the model's own state, then the step.
A new piece of checkpoint state is one more part here; the entry's name is its tensors'
prefix in every checkpoint (``s.<key>.``), so a key never changes.
"""

from __future__ import annotations

import torch

from ..errors import GankitError

#: what ``state_dict()`` returns, and ``load_state_dict`` / ``check_state`` get, for an
#: entry the run or the checkpoint does not have
ABSENT = type("Absent", (), {"__repr__": lambda self: "ABSENT", "__bool__": lambda s: False})()


def parts(t) -> list:
    """The parts of trainer ``t``'s state, in the order a resume loads them."""
    return [Nets(t), Optimizers(t), Schedulers(t),
            *(BatcherPart(t, key, b) for key, b in t.batchers.items()),
            FixedNoise(t), Ema(t), Augmentation(t), Scaler(t), Rng(t), Extra(t), Step(t)]


def _given(saved) -> bool:
    return saved is not ABSENT and saved is not None


def _or_none(saved):
    return None if saved is ABSENT else saved


def _need(saved, key: str):
    if saved is ABSENT:
        raise KeyError(key)
    return saved


class Part:
    """One entry of the training state; see the module's docstring."""

    key = ""

    def __init__(self, t):
        self.t = t

    def state_dict(self):
        raise NotImplementedError

    def load_state_dict(self, saved) -> None:
        raise NotImplementedError

    def check_state(self, check, saved, fresh) -> None:
        raise NotImplementedError


class Nets(Part):
    key = "nets"

    def state_dict(self):
        return {k: v.state_dict() for k, v in self.t.nets.items()}

    def load_state_dict(self, saved) -> None:
        for k, net in self.t.nets.items():
            try:
                net.load_state_dict(_need(saved, "nets")[k])
            except (KeyError, RuntimeError) as exc:
                raise GankitError(
                    f"checkpoint does not fit model '{self.t.model.name}' as configured "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
                ) from None

    def check_state(self, check, saved, fresh) -> None:
        nets = check.container(_or_none(saved), "s.nets", dict, "the run")
        for name, sd in fresh.items():
            if name not in nets:
                check.fail(f"'s.nets.{name}' is missing; the run trains network '{name}'")
            check.state_dict(nets[name], sd, f"s.nets.{name}", f"network '{name}'")


class Optimizers(Part):
    key = "opts"

    def state_dict(self):
        return {k: v.state_dict() for k, v in self.t.opts.items()}

    def load_state_dict(self, saved) -> None:
        for k, opt in self.t.opts.items():
            opt.load_state_dict(_need(saved, "opts")[k])
            match_param_layout(opt)

    def check_state(self, check, saved, fresh) -> None:
        opts = check.container(_or_none(saved), "s.opts", dict, "the run")
        for name, opt in self.t.opts.items():
            if name not in opts:
                check.fail(f"'s.opts.{name}' is missing; the run has optimizer '{name}'")
            check.optimizer(opts[name], opt, fresh[name], f"s.opts.{name}")


class Schedulers(Part):
    key = "scheds"

    def state_dict(self):
        return {k: v.state_dict() for k, v in self.t.scheds.items()}

    def load_state_dict(self, saved) -> None:
        saved = {} if saved is ABSENT else saved
        for k, sch in self.t.scheds.items():
            if k in saved:
                sch.load_state_dict(saved[k])

    def check_state(self, check, saved, fresh) -> None:
        if not _given(saved):
            return
        check.container(saved, "s.scheds", dict, "the run")
        for name in self.t.scheds:
            if name in saved:
                check.loose(saved[name], fresh[name], f"s.scheds.{name}",
                            f"scheduler '{name}'", same_length=True)


class BatcherPart(Part):
    """A data domain's batcher: ``batcher`` for the main data, ``batcher_b``... after."""

    def __init__(self, t, key: str, batcher):
        super().__init__(t)
        self.key, self.b = key, batcher

    def state_dict(self):
        return self.b.state_dict()

    def load_state_dict(self, saved) -> None:
        if saved is not ABSENT:
            self.b.load_state_dict(saved)

    def check_state(self, check, saved, fresh) -> None:
        if saved is ABSENT:
            return
        path, b, who = f"s.{self.key}", self.b, "the batcher"
        check.container(saved, path, dict, who)
        for key in ("gen", "perm", "pos", "epoch"):
            if key not in saved:
                check.fail(f"'{path}.{key}' is missing")
        check.like(saved["gen"], fresh["gen"], f"{path}.gen", "the batcher's random generator")
        perm = saved["perm"]
        dtype = check.tensor(perm, f"{path}.perm", who)
        if dtype != "int64" or len(perm.shape) != 1:
            check.fail(f"tensor '{perm.name}' is {dtype} {[int(n) for n in perm.shape]}, the batcher "
                       f"needs an int64 permutation of the data's {b.n} indices")
        if perm.shape[0] != b.n:
            check.fail(f"tensor '{perm.name}' orders {perm.shape[0]} samples but the data set "
                       f"now has {b.n}; resume with the same data or start a new run")
        t = check.read(perm)
        if t.numel():
            low, high = int(t.min()), int(t.max())
            if low < 0 or high >= b.n:
                bad = low if low < 0 else high
                check.fail(f"tensor '{perm.name}' holds index {bad}, outside the data's "
                           f"0..{b.n - 1}")
            counts = torch.bincount(t, minlength=b.n)
            # --balance-classes draws each epoch's order with replacement: repeats are fine
            if getattr(b, "weights", None) is None and bool((counts != 1).any()):
                dup = int(torch.nonzero(counts > 1)[0])
                check.fail(f"tensor '{perm.name}' is not a permutation of the data's indices "
                           f"(index {dup} appears {int(counts[dup])} times)")
        check.integer(saved["pos"], f"{path}.pos", 0, b.n)
        check.integer(saved["epoch"], f"{path}.epoch", 0)


class FixedNoise(Part):
    """The preview grid's inputs, drawn once per run."""

    key = "fixed_noise"

    def state_dict(self):
        return ABSENT if self.t.fixed_noise is None else self.t.fixed_noise

    def load_state_dict(self, saved) -> None:
        if saved is not ABSENT:
            self.t.fixed_noise = saved

    def check_state(self, check, saved, fresh) -> None:
        if saved is ABSENT:
            return
        ref = None if fresh is ABSENT else fresh
        if ref is not None and not isinstance(ref, torch.Tensor):
            # a model whose preview inputs are not one tensor
            check.loose(saved, ref, "s.fixed_noise", "the preview inputs")
            return
        if ref is None:
            check.fail("'s.fixed_noise': this model keeps no fixed noise")
        dtype = check.tensor(saved, "s.fixed_noise", "the fixed noise")
        shape, want = tuple(saved.shape), tuple(ref.shape)
        if len(shape) != len(want) or shape[1:] != want[1:] or not shape or shape[0] < 1:
            check.fail(f"tensor 's.fixed_noise' has shape {[int(n) for n in shape]}, the "
                       f"model's latent needs [N, {', '.join(map(str, want[1:]))}]")
        want_dtype = str(ref.dtype).removeprefix("torch.")
        if dtype != want_dtype:
            check.fail(f"tensor 's.fixed_noise' has dtype {dtype}, the model's latent needs "
                       f"{want_dtype}")
        check.finite(saved, dtype)


class Ema(Part):
    """The EMA copies of the generator networks."""

    key = "ema"

    def state_dict(self):
        return {k: e.state_dict() for k, e in self.t.ema.items()} if self.t.ema else ABSENT

    def load_state_dict(self, saved) -> None:
        saved = saved or {}
        for k, e in self.t.ema.items():
            if k in saved:
                e.load_state_dict(saved[k])
            else:  # a run that had no EMA: start the average from the current weights
                e.copy_from(self.t.nets[k])

    def check_state(self, check, saved, fresh) -> None:
        if not _given(saved):
            return
        ema = check.container(saved, "s.ema", dict, "the run")
        fresh = fresh or {}
        for name, sd in ema.items():
            net = self.t.nets.get(name)
            ref = fresh.get(name) if name in fresh else (
                net.state_dict() if net is not None else None)
            if ref is None:
                check.fail(f"'s.ema.{name}': the model has no network '{name}'")
            check.state_dict(sd, ref, f"s.ema.{name}", f"the EMA of network '{name}'")


class Augmentation(Part):
    key = "augment"

    def state_dict(self):
        return ABSENT if self.t.augment is None else self.t.augment.state_dict()

    def load_state_dict(self, saved) -> None:
        if self.t.augment is not None and saved is not ABSENT:
            self.t.augment.load_state_dict(saved)

    def check_state(self, check, saved, fresh) -> None:
        if not _given(saved):
            return
        aug = check.container(saved, "s.augment", dict, "the augmentation")
        check.loose(aug, fresh or {}, "s.augment", "the augmentation")
        p = aug.get("p")
        if p is not None:
            if not check.is_info(p) or tuple(p.shape) != () or not check.is_float(p):
                check.fail("'s.augment.p' must be a scalar float tensor")
            check.finite(p, low=0.0, high=1.0)


class Scaler(Part):
    """fp16's gradient scaler."""

    key = "scaler"

    def state_dict(self):
        return ABSENT if self.t.scaler is None else self.t.scaler.state_dict()

    def load_state_dict(self, saved) -> None:
        if self.t.scaler is not None and saved is not ABSENT:
            self.t.scaler.load_state_dict(saved)

    def check_state(self, check, saved, fresh) -> None:
        if self.t.scaler is None or not _given(saved):
            return
        check.loose(saved, fresh, "s.scaler", "the gradient scaler")
        scale = saved.get("scale") if isinstance(saved, dict) else None
        if check.is_number(scale) and scale <= 0:
            check.fail(f"'s.scaler.scale' is {scale}, it must be positive")


class Rng(Part):
    """torch's global random generators (the CPU's, and the device's on CUDA)."""

    key = "rng"

    def state_dict(self):
        s = {"cpu": torch.get_rng_state()}
        if self.t.device.type == "cuda":
            s["cuda"] = torch.cuda.get_rng_state(self.t.device)
        return s

    def load_state_dict(self, saved) -> None:
        saved = _need(saved, "rng")
        torch.set_rng_state(saved["cpu"])
        if "cuda" in saved and self.t.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda"], self.t.device)

    def check_state(self, check, saved, fresh) -> None:
        rng = check.container(_or_none(saved), "s.rng", dict, "the run")
        if "cpu" not in rng:
            check.fail("tensor 's.rng.cpu' is missing (the random generator's state)")
        check.like(rng["cpu"], fresh["cpu"], "s.rng.cpu", "the random generator")
        if "cuda" in fresh and "cuda" in rng:
            check.like(rng["cuda"], fresh["cuda"], "s.rng.cuda", "the CUDA generator")


class Extra(Part):
    """The model's own state: ``extra_state()`` and its per-run ``RunState``."""

    key = "extra"

    def _owners(self):
        return [o for o in (self.t.model, self.t.run_state) if o is not None]

    def state_dict(self):
        t = self.t
        return {**t.model.extra_state(),
                **(t.run_state.state_dict() if t.run_state is not None else {})}

    def load_state_dict(self, saved) -> None:
        extra = saved or {}
        self.t.model.load_extra_state(extra)
        if self.t.run_state is not None:
            self.t.run_state.load_state_dict(extra)

    def check_state(self, check, saved, fresh) -> None:
        """The model's optional ``check_state(extra)`` (on the model and on its per-run
        state) checks what a fresh trainer cannot show (an image pool is empty until the
        run trains), given :class:`~gankit.checkpoints.TensorInfo` in each tensor's place
        and raising ``GankitError`` or ``ValueError`` with a one-line reason."""
        if not _given(saved):
            return
        name = self.t.model.name
        check.container(saved, "s.extra", dict, "the model")
        check.loose(saved, fresh or {}, "s.extra", f"model '{name}'")
        for owner in self._owners():
            try:
                owner.check_state(saved)
            except (GankitError, ValueError, TypeError, KeyError, AttributeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                check.fail(f"model '{name}' cannot resume from its extra state ({reason})")


class Step(Part):
    """The step count, last: the model's state above may be restored to it."""

    key = "step"

    def state_dict(self):
        return self.t.step

    def load_state_dict(self, saved) -> None:
        self.t.step = int(_need(saved, "step"))

    def check_state(self, check, saved, fresh) -> None:
        step = check.integer(None if saved is ABSENT else saved, "s.step", 0)
        if step != check.c.step:
            check.fail(f"'s.step' is {step} but the metadata says gankit.step {check.c.step}")


def match_param_layout(opt) -> None:
    """Give per-parameter optimizer state the memory layout of its parameter.

    Checkpoints store tensors contiguous; a channels_last parameter whose Adam moments
    come back NCHW would make fused/foreach kernels pair the wrong elements."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            for key, v in st.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    st[key] = torch.empty_like(p, dtype=v.dtype).copy_(v)
