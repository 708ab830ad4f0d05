""":func:`check_dataset`: the loaded :class:`gankit.Data` has the dtype, layout and spec
gankit's batcher expects, and loading is deterministic."""

from __future__ import annotations

import dataclasses

from ..datasets import Data, Dataset, LoadOptions
from .base import _fail, _json_ok, builtin_plugins


def check_dataset(dataset, options=None, *, plugins=None, deterministic: bool = True):
    """Load a :class:`gankit.Dataset` (or registered name) and check what it returns.

    :param options: a :class:`gankit.LoadOptions` or a dict of its fields, e.g.
        ``{"path": tmp_path, "image_size": 32, "extra": {...}}``.
    :param deterministic: load twice and require identical samples.

    Returns the :class:`gankit.Data`.
    """
    import torch

    if isinstance(dataset, str):
        dataset = (plugins if plugins is not None else builtin_plugins()).datasets().get(dataset)
    cls = type(dataset).__name__
    if not isinstance(dataset, Dataset):
        _fail(f"{cls} is not a gankit.Dataset")
    if not dataset.name or not isinstance(dataset.name, str):
        _fail(f"{cls}.name must be a non-empty string (what users pass to --dataset)")
    if dataset.kind not in ("image", "vector"):
        _fail(f"{cls}.kind must be 'image' or 'vector', got {dataset.kind!r}")
    _json_ok(dataset.describe(), cls)
    if options is None:
        options = LoadOptions()
    elif isinstance(options, dict):
        options = LoadOptions(**{k: (str(v) if k == "path" and v is not None else v)
                                 for k, v in options.items()})
    if dataset.needs_path and not options.path:
        _fail(f"{cls}.needs_path is True: pass options={{'path': ...}} to check it")
    if options.config is None:  # the data set's options at their defaults, as training has
        if not dataclasses.is_dataclass(dataset.Config):
            _fail(f"{cls}.Config must be a dataclass (its fields are --set data.KEY options)")
        try:
            options.config = dataset.Config()
        except TypeError as exc:
            _fail(f"{cls}.Config: every field needs a default ({exc})")
        _json_ok(dataset.describe(), cls)

    data = dataset.load(options)
    if not isinstance(data, Data):
        _fail(f"{cls}.load() must return a gankit.Data, got {type(data).__name__}")
    s, spec = data.samples, data.spec
    if not isinstance(s, torch.Tensor):
        _fail(f"{cls}: Data.samples must be a torch tensor, got {type(s).__name__}")
    if len(data) == 0:
        _fail(f"{cls}.load() returned no samples")
    if spec.kind != dataset.kind:
        _fail(f"{cls}.kind is {dataset.kind!r} but the data's spec says {spec.kind!r}")
    if spec.kind == "image":
        if s.dtype != torch.uint8 or s.dim() != 4:
            _fail(f"{cls}: images must be a uint8 (N, C, H, W) tensor, got {s.dtype} "
                  f"{tuple(s.shape)} (keep them uint8 in memory; the batcher scales them)")
        if s.shape[1] not in (1, 3) or s.shape[1] != spec.channels:
            _fail(f"{cls}: {s.shape[1]} channels in the samples, spec says {spec.channels} "
                  "(use 1 or 3)")
        if s.shape[2] != s.shape[3] or s.shape[2] != spec.size:
            _fail(f"{cls}: samples are {s.shape[2]}x{s.shape[3]}, spec.size is {spec.size}; "
                  "images must be square and match the spec")
        if options.image_size and spec.size != options.image_size:
            _fail(f"{cls}: asked for image_size {options.image_size}, got {spec.size}")
    else:
        if s.dtype != torch.float32 or s.dim() != 2 or s.shape[1] != spec.dim:
            _fail(f"{cls}: vectors must be float32 (N, spec.dim={spec.dim}), got {s.dtype} "
                  f"{tuple(s.shape)}")
        if not torch.isfinite(s).all():
            _fail(f"{cls}: non-finite values in the samples")
    if data.names and len(data.names) != len(data):
        _fail(f"{cls}: {len(data.names)} names for {len(data)} samples")
    if deterministic:
        again = dataset.load(options)
        if again.samples.shape != s.shape or not torch.equal(again.samples, s):
            _fail(f"{cls}.load() gave different samples for the same options; "
                  "derive any randomness from options.seed")
    return data
