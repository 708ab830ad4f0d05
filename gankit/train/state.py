"""The trainer's complete state: what a checkpoint holds and how it comes back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from .. import checkpoints as ckpt
from ..errors import GankitError
from ..registry import run_names
from ..config import to_dict
from ..options import TrainOptions
from .parts import ABSENT, match_param_layout, parts  # noqa: F401 - its old home


def collect(t) -> dict:
    """Everything an exact resume needs, as nested dicts of tensors and JSON values: one
    entry per part of :func:`gankit.train.parts.parts`."""
    s = {}
    for part in sorted(parts(t), key=_saved_rank):
        value = part.state_dict()
        if value is not ABSENT:
            s[part.key] = value
    return s


#: the order checkpoints list their entries in (as earlier versions wrote them, so a
#: file's metadata stays the same); entries not named here come after, in load order
SAVED_ORDER = ("step", "nets", "opts", "scheds", "rng", "extra", "batcher*", "fixed_noise",
               "ema", "augment", "scaler")


def _saved_rank(part) -> int:
    key = "batcher*" if part.key.startswith("batcher") else part.key
    return SAVED_ORDER.index(key) if key in SAVED_ORDER else len(SAVED_ORDER)


def restore(t, s: dict) -> None:
    for part in parts(t):
        part.load_state_dict(s.get(part.key, ABSENT))
    if t.world_size > 1:
        # the checkpoint holds the main process's random streams: give each process its
        # own again (a resumed torchrun run continues, but not bit for bit)
        seed = t.options.seed + 1_000_003 * t.rank + t.step
        torch.manual_seed(seed)
        for i, b in enumerate(t.batchers.values()):
            b.gen.manual_seed(seed + 7 + i)


def metadata(t) -> dict:
    from .. import __version__

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
