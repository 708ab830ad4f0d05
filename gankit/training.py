"""From command-line choices to a ready :class:`gankit.Trainer` (new run or resume)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from . import checkpoints as ckpt
from . import console, engine
from .config import apply_sets, from_dict, to_dict
from .datasets import LoadOptions
from .errors import GankitError, UsageError
from .trainer import Trainer, TrainOptions, run_dir_for, steps_for_epochs, writable_dir

DEFAULT_STEPS = 2000


def resolve_resume(target: str):
    """A run folder (its newest loadable checkpoint) or a checkpoint file -> (ckpt, run dir)."""
    p = Path(target)
    if not p.exists():
        raise GankitError(f"--resume {target}: no such run folder or checkpoint")
    if p.is_dir():
        found = ckpt.list_checkpoints(p)
        if not found:
            raise GankitError(f"--resume {target}: no checkpoints in {p / 'checkpoints'}")
        c = ckpt.latest_loadable(p)
        if c is None:
            raise GankitError(f"--resume {target}: none of its checkpoints can be read")
        if c.path != found[-1]:
            console.warn(f"{found[-1]} is damaged; resuming from {c.path.name}")
        return c, p
    c = ckpt.Checkpoint(p)
    run_dir = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return c, run_dir


def load_data(plugins, model, options: TrainOptions, *, path, name, progress=None,
              image_size: int | None = None, flag: str = ""):
    """Load one data set for ``model`` as the flags ask (``image_size`` overrides
    ``options.image_size``; ``flag`` names the data flag in errors, e.g. ``--data-b``)."""
    defaults = model.training_defaults()
    name = name or ("imagefolder" if path else defaults.get("dataset") or "sushi")
    ds = plugins.datasets().get(name)
    if ds.needs_path and not path:
        raise UsageError(f"--dataset {name} needs --data PATH (a folder with its files)")
    lo = LoadOptions(
        path=path,
        image_size=image_size or options.image_size,
        grayscale=options.grayscale,
        download=bool(options.extra.get("download", False)),
        cache=bool(options.extra.get("cache", True)),
        seed=options.seed,
        warn=console.warn,
        progress=progress,
        extra=dict(options.extra),
    )
    data = ds.load(lo)
    if data is None or len(data) == 0:
        raise GankitError((f"{flag}: " if flag else "") + f"data set '{name}'"
                          + (f" at {path}" if path else "") + " is empty")
    if not ds.flip:
        data.meta = {**(data.meta or {}), "flip": False}  # the batcher honours it
    return data


def check_numbers(options: TrainOptions) -> None:
    """Out-of-range numeric flags: one line naming the flag (not a ZeroDivisionError)."""
    for flag, value, low in (("--log-every", options.log_every, 1), ("--grid", options.grid, 1),
                             ("--image-size", options.image_size, 1),
                             ("--checkpoint-every", options.checkpoint_every, 0),
                             ("--sample-every", options.sample_every, 0),
                             ("--keep-last", options.keep_last, 0),
                             ("--max-retries", options.max_retries, 0)):
        if value is not None and value < low:
            raise UsageError(f"{flag} {value}: must be at least {low}")
    for flag, value in (("--lr", options.lr), ("--epochs", options.epochs)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{flag} {value}: must be a positive number")
    for i, beta in enumerate(options.betas or ()):
        if not 0 <= beta < 1:
            raise UsageError(f"--beta{i + 1} {beta}: must be in [0, 1)")


def _explicit_conflicts(saved: TrainOptions, new: TrainOptions, explicit) -> list[str]:
    out = []
    for k in sorted(explicit):
        if k in TrainOptions.RESUMABLE or k == "extra":
            continue
        a, b = getattr(saved, k), getattr(new, k)
        if isinstance(a, list):
            a = tuple(a)
        if a != b:
            out.append(f"--{k.replace('_', '-')} {b} (the run has {a})")
    return out


def prepare(options: TrainOptions, *, sets: dict | None = None, explicit=(), resume=None,
            override: bool = False, plugins=None) -> Trainer:
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    sets = dict(sets or {})
    # only TrainOptions fields take part in resume conflicts (not --resume, --set, ...)
    explicit = set(explicit) & {f.name for f in dataclasses.fields(TrainOptions)}
    checkpoint = None
    run_dir = None
    if resume:
        checkpoint, run_dir = resolve_resume(resume)
        try:
            saved = from_dict(TrainOptions, checkpoint.train, strict=False)
        except GankitError as exc:  # edited metadata: name the file
            raise ckpt.CheckpointError(f"{checkpoint.path}: {exc}") from None
        if options.model and options.model != saved.model and "model" in explicit:
            raise GankitError(
                f"--resume {resume}: that run trains '{saved.model}', not '{options.model}'"
            )
        conflicts = _explicit_conflicts(saved, options, explicit)
        changed_sets = {k: v for k, v in sets.items() if str(checkpoint.config.get(k)) != v}
        if (conflicts or changed_sets) and not override:
            what = conflicts + [f"--set {k}={v}" for k, v in changed_sets.items()]
            raise GankitError(
                f"--resume {resume}: {', '.join(what)} conflicts with the run's config; "
                "pass --override to change it anyway"
            )
        merged = dataclasses.asdict(saved)
        for k in explicit:
            if k in TrainOptions.RESUMABLE or override:
                merged[k] = getattr(options, k)
        if options.steps is None and "epochs" not in explicit:
            merged["steps"] = saved.steps
        merged["betas"] = tuple(merged["betas"]) if merged.get("betas") else None
        options = TrainOptions(**merged)

    if checkpoint is not None and options.model not in plugins.models():
        raise ckpt.CheckpointError(f"{checkpoint.path}: needs model '{options.model}', which no "
                                   "installed plugin provides")
    model = plugins.models().get(options.model)
    if checkpoint is not None:
        if checkpoint.model != model.name:
            raise ckpt.CheckpointError(
                f"{checkpoint.path}: a '{checkpoint.model}' checkpoint, not '{model.name}'")
        if str(checkpoint.model_version) != str(model.version):
            raise ckpt.CheckpointError(
                f"{checkpoint.path}: made with version {checkpoint.model_version} of model "
                f"'{model.name}', installed is version {model.version}; use the plugin release "
                "it was trained with")
    defaults = model.training_defaults()
    for key in ("batch_size", "lr", "betas", "loss"):
        if getattr(options, key) is None:
            setattr(options, key, defaults.get(key))
    loss = None
    if options.loss:
        loss = plugins.losses().get(options.loss)
        for key, value in (loss.optimizer or {}).items():
            if key in ("lr", "betas") and key not in explicit and not checkpoint:
                setattr(options, key, value)
    options.betas = tuple(options.betas) if options.betas else (0.5, 0.999)
    check_numbers(options)

    if checkpoint is not None:
        try:
            config = from_dict(model.Config, checkpoint.config, strict=False)
        except GankitError as exc:
            raise ckpt.CheckpointError(f"{checkpoint.path}: {exc}") from None
        config = apply_sets(config, sets, what=model.name) if override else config
    else:
        config = apply_sets(model.default_config(), sets, what=model.name)

    if options.image_size is None:
        options.image_size = None  # the data set's native size, else the model default
    with console.lazy_progress("decoding images") as progress:
        if hasattr(model, "load_data"):
            data, data_b = model.load_data(plugins, options, progress)
        else:
            if options.image_size is None:
                ds_name = options.dataset or ("imagefolder" if options.data else
                                              defaults.get("dataset") or "sushi")
                ds = plugins.datasets().get(ds_name)
                options.image_size = ds.default_size or defaults.get("image_size", 64)
            data = load_data(plugins, model, options, path=options.data, name=options.dataset,
                             progress=progress)
            data_b = None
    if options.image_size is None or data.spec.kind == "image":
        options.image_size = data.spec.size if data.spec.kind == "image" else options.image_size
    try:
        model.check(config, data.spec)
    except (GankitError, TypeError, ValueError) as exc:
        if checkpoint is None or isinstance(exc, UsageError):
            raise
        raise ckpt.CheckpointError(f"{checkpoint.path}: {exc}") from None
    if checkpoint is not None:  # before allocating: do the file's tensors fit its config?
        from .runs import check_fits

        check_fits(checkpoint, model, config, data.spec, loss)

    n = len(data) if data_b is None else max(len(data), len(data_b))
    smallest = len(data) if data_b is None else min(len(data), len(data_b))
    if options.batch_size > smallest:
        console.warn(
            f"--batch-size {options.batch_size} is larger than the data set ({smallest} samples); "
            f"using {smallest}"
        )
        options.batch_size = smallest
    if options.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if options.steps is None:
        options.steps = (steps_for_epochs(options.epochs, n, options.batch_size)
                         if options.epochs else defaults.get("steps", DEFAULT_STEPS))
    if options.steps < 1:
        raise UsageError("--steps must be at least 1")

    if run_dir is None:
        run_dir = run_dir_for(options)
        if engine.is_distributed():
            # under torchrun every process must use the folder the main process picked
            engine.init_distributed(engine.pick_device(options.device))
            run_dir = Path(engine.broadcast_text(str(run_dir)))
        writable_dir(Path(options.out), "--out")
    writable_dir(run_dir, "--out")
    (run_dir / "samples").mkdir(exist_ok=True)
    (run_dir / "checkpoints").mkdir(exist_ok=True)

    trainer = Trainer(model=model, config=config, options=options, data=data, data_b=data_b,
                      loss=loss, plugins=plugins, run_dir=run_dir, total_steps=options.steps)
    if checkpoint is not None:
        if checkpoint.model != model.name:
            raise GankitError(f"{checkpoint.path}: a '{checkpoint.model}' checkpoint, not '{model.name}'")
        trainer.resume_from(checkpoint)
        if trainer.step >= trainer.total_steps:
            console.info(f"run already at step {trainer.step} of {trainer.total_steps}; "
                         "pass --steps N to train further")
    write_config(trainer)
    return trainer


def write_config(trainer: Trainer) -> None:
    from . import __version__

    doc = {
        "gankit_version": __version__,
        "model": trainer.model.name,
        "model_version": trainer.model.version,
        "options": dataclasses.asdict(trainer.options),
        "model_config": to_dict(trainer.config),
        "data": trainer.spec.to_dict(),
        "loss": trainer.loss.name if trainer.loss is not None else None,
        "device": str(trainer.device),
        "precision": trainer.precision,
    }
    text = json.dumps(doc, indent=2, default=str) + "\n"
    ckpt.atomic_write(trainer.run_dir / "config.json",
                      lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
