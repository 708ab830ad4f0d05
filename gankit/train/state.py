"""The trainer's complete state: what a checkpoint holds and how it comes back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from .. import checkpoints as ckpt
from ..errors import GankitError
from ..registry import run_names


def collect(t) -> dict:
    """Everything an exact resume needs, as nested dicts of tensors and JSON values."""
    s = {
        "step": t.step,
        "nets": {k: v.state_dict() for k, v in t.nets.items()},
        "opts": {k: v.state_dict() for k, v in t.opts.items()},
        "scheds": {k: v.state_dict() for k, v in t.scheds.items()},
        "rng": {"cpu": torch.get_rng_state()},
        "extra": {**t.model.extra_state(),
                  **(t.run_state.state_dict() if t.run_state is not None else {})},
    }
    for key, b in t.batchers.items():
        s[key] = b.state_dict()
    if t.fixed_noise is not None:
        s["fixed_noise"] = t.fixed_noise
    if t.ema:
        s["ema"] = {k: e.state_dict() for k, e in t.ema.items()}
    if t.augment is not None:
        s["augment"] = t.augment.state_dict()
    if t.scaler is not None:
        s["scaler"] = t.scaler.state_dict()
    if t.device.type == "cuda":
        s["rng"]["cuda"] = torch.cuda.get_rng_state(t.device)
    return s


def restore(t, s: dict) -> None:
    for k, net in t.nets.items():
        try:
            net.load_state_dict(s["nets"][k])
        except (KeyError, RuntimeError) as exc:
            raise GankitError(
                f"checkpoint does not fit model '{t.model.name}' as configured "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
    for k, opt in t.opts.items():
        opt.load_state_dict(s["opts"][k])
        match_param_layout(opt)
    for k, sch in t.scheds.items():
        if k in s.get("scheds", {}):
            sch.load_state_dict(s["scheds"][k])
    for key, b in t.batchers.items():
        if key in s:
            b.load_state_dict(s[key])
    if "fixed_noise" in s:
        t.fixed_noise = s["fixed_noise"]
    saved_ema = s.get("ema") or {}
    for k, e in t.ema.items():
        if k in saved_ema:
            e.load_state_dict(saved_ema[k])
        else:  # a run that had no EMA: start the average from the current weights
            e.copy_from(t.nets[k])
    if t.augment is not None and "augment" in s:
        t.augment.load_state_dict(s["augment"])
    if t.scaler is not None and "scaler" in s:
        t.scaler.load_state_dict(s["scaler"])
    torch.set_rng_state(s["rng"]["cpu"])
    if "cuda" in s["rng"] and t.device.type == "cuda":
        torch.cuda.set_rng_state(s["rng"]["cuda"], t.device)
    extra = s.get("extra") or {}
    t.model.load_extra_state(extra)
    if t.run_state is not None:
        t.run_state.load_state_dict(extra)
    t.step = int(s["step"])
    if t.world_size > 1:
        # the checkpoint holds the main process's random streams: give each process its
        # own again (a resumed torchrun run continues, but not bit for bit)
        seed = t.options.seed + 1_000_003 * t.rank + t.step
        torch.manual_seed(seed)
        for i, b in enumerate(t.batchers.values()):
            b.gen.manual_seed(seed + 7 + i)


def metadata(t) -> dict:
    from .. import __version__
    from ..config import to_dict

    return {
        "gankit.format": str(ckpt.FORMAT),
        "gankit.version": __version__,
        "gankit.model": t.model.name,
        "gankit.model_version": str(t.model.version),
        "gankit.plugin": str(getattr(t.model, "plugin", "") or ""),
        "gankit.plugin_version": plugin_version(t.plugins, t.model),
        "gankit.config": json.dumps(to_dict(t.config)),
        "gankit.train": json.dumps(dataclasses.asdict(t.options), default=_json_default),
        "gankit.data": json.dumps(t.spec.to_dict()),
        "gankit.step": str(t.step),
        "gankit.names": json.dumps(run_names(t.model, t.loss, t.data_domains)),
    }


def write_checkpoint(t, path: Path) -> None:
    tensors: dict = {}
    skel = ckpt.flatten_state(t.state(), "s", tensors)
    meta = metadata(t)
    meta["gankit.state"] = json.dumps(skel)
    ckpt.save(path, tensors, meta)


def plugin_version(plugins, model) -> str:
    rec = plugins.records.get(getattr(model, "plugin", ""), None)
    return str((rec.version if rec and rec.version else "") or "")


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


def cpu_copy(state):
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: cpu_copy(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(v) for v in state)
    return state


def _json_default(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def config_doc(t) -> dict:
    """What config.json records of a run."""
    from .. import __version__
    from ..config import to_dict

    return {
        "gankit_version": __version__, "model": t.model.name,
        "model_version": t.model.version, "options": dataclasses.asdict(t.options),
        "model_config": to_dict(t.config), "data": t.spec.to_dict(),
        "loss": t.loss.name if t.loss is not None else None,
        "device": str(t.device), "precision": t.precision,
        "names": run_names(t.model, t.loss, t.data_domains),  # PLUGIN:NAME of each
    }


def apply_changed_options(t, saved_train: dict) -> None:
    """``--resume --override`` with a new ``--lr`` or ``--beta1/--beta2``: the optimizers'
    restored hyperparameters follow the new options. Learning rates are rescaled by
    new / old, so a schedule's position and the divergence guard's reductions are kept."""
    from .options import TrainOptions

    saved = TrainOptions.from_saved(saved_train)
    o = t.options
    ratio = (o.lr / saved.lr) if (o.lr and saved.lr and o.lr != saved.lr) else None
    betas = tuple(o.betas) if o.betas and saved.betas and tuple(o.betas) != tuple(saved.betas) \
        else None
    if ratio is None and betas is None:
        return
    for opt in t.opts.values():
        for g in opt.param_groups:
            if ratio is not None:
                for key in ("lr", "initial_lr", "initial_lr_gankit"):
                    if isinstance(g.get(key), (int, float)):
                        g[key] = g[key] * ratio
            if betas is not None and "betas" in g:
                g["betas"] = betas
    if ratio is not None:
        for sch in t.scheds.values():
            for attr in ("base_lrs", "initial_base_lrs_gankit"):
                if isinstance(getattr(sch, attr, None), list):
                    setattr(sch, attr, [b * ratio for b in getattr(sch, attr)])
