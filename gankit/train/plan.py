"""From choices to a complete, validated plan of a run: :func:`plan`.

The command line merges its flags into :class:`TrainOptions`; the plan never reads
flags. It resolves a resume (which run, which checkpoint, what may change), fills the
model's and the loss's defaults, loads the data, checks that the model can be built
for it and that a checkpoint's tensors fit, and picks the run folder. The trainer is
then built from the plan (:meth:`gankit.train.Trainer.from_plan`); the test kit and
the benchmark do the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import bounds, console, engine
from ..bounds import check_numbers  # noqa: F401 - gankit.train.plan.check_numbers
from ..config import apply_sets, from_dict
from ..dataload import (as_domains, check_data_kind, conditional_spec, data_config,  # noqa: F401
                        dataset_name, imbalance_note, load_data, split_sets)
from ..datasets import DataSpec
from ..errors import CheckpointError, GankitError, UsageError
from ..registry import DATASET_META, PluginGoneError, pins_for
from ..loading import check_fits
from ..options import TrainOptions
from ..run import Run, not_a_run
from .choices import apply_suggestions, flip_choice, small_data_choices

DEFAULT_STEPS = 2000


@dataclass
class Plan:
    """Everything a :class:`gankit.train.Trainer` is built from."""

    model: object
    config: object
    options: TrainOptions
    loss: object | None
    data: dict  # domain name -> Data; the first is the model's main data
    run: Run
    plugins: object
    checkpoint: object | None = None
    notes: list = field(default_factory=list)

    @property
    def steps(self) -> int:
        return int(self.options.steps)


def steps_for_epochs(epochs: float, n: int, batch: int) -> int:
    return bounds.steps_for_epochs(epochs, n, batch)


def precheck_size(model, config, plugins, options, sets, loss) -> bool:
    """An explicit ``--image-size`` against the model, and the networks' size against
    memory, before any data is rendered or decoded. Any refusal is about a flag: exit 2.
    Returns whether the check ran (only for image data of a known size)."""
    if options.image_size is None or "image" not in model.data_kinds:
        return False
    name = dataset_name(model, options.dataset, options.data)
    ds = plugins.datasets().get(name)
    if ds.kind != "image":
        return False
    # the channels are known only once the data is decoded: refuse only what neither
    # 1 nor 3 channels can build (a model that wants grey images is not refused here)
    first = 1 if options.grayscale == "always" else int(getattr(ds, "channels", 3) or 3)
    refusal = None
    for channels in dict.fromkeys((first, 3, 1)):
        spec = DataSpec(kind="image", channels=channels, size=int(options.image_size), name=name)
        try:
            model.check(config, spec)
        except (GankitError, TypeError, ValueError) as exc:
            refusal = refusal or exc
            continue
        bounds.check_model_memory(model, config, spec, loss, sets)
        return True
    if isinstance(refusal, UsageError):
        raise refusal
    raise UsageError(str(refusal)) from None


def _same(plugins, kind, a, b) -> bool:
    """Whether two names (bare or PLUGIN:NAME) reach the same registered object."""
    if a == b or not a or not b:
        return a == b
    reg = plugins.registry(kind)
    try:
        return reg.resolve(a) == reg.resolve(b)
    except GankitError:
        return False


def _resumed_options(options, checkpoint, sets, explicit, override, resume, plugins):
    """The run's saved options with the explicitly given ones that may change."""
    try:
        saved = TrainOptions.from_saved(checkpoint.train)
    except GankitError as exc:  # edited metadata: name the file
        raise CheckpointError(f"{checkpoint.path}: {exc}") from None
    from .validate import validate_saved_options  # before the options size anything

    validate_saved_options(checkpoint, saved)
    for k, kind in (("model", "model"), ("loss", "loss"), ("dataset", "dataset")):
        if k in explicit and _same(plugins, kind, getattr(options, k), getattr(saved, k)):
            setattr(options, k, getattr(saved, k))  # e.g. --loss sngan:rsgan for "rsgan"
    if options.model and options.model != saved.model and "model" in explicit:
        raise GankitError(f"--resume {resume}: that run trains '{saved.model}', not "
                          f"'{options.model}'")
    conflicts = []
    for k in sorted(explicit):
        if k in TrainOptions.RESUMABLE or k == "extra":
            continue
        if k in options.extra or k in saved.extra:  # a model's own flag, kept in extra
            a, b = saved.extra.get(k), options.extra.get(k)
        elif k == "data_options":  # only the data options given now
            a = {kk: saved.data_options.get(kk) for kk in options.data_options}
            b = dict(options.data_options)
        else:
            a, b = getattr(saved, k), getattr(options, k)
        if (tuple(a) if isinstance(a, list) else a) != b:
            conflicts.append(f"--{k.replace('_', '-')} {b} (the run has {a})")
    changed_sets = {k: v for k, v in sets.items() if str(checkpoint.config.get(k)) != v}
    if (conflicts or changed_sets) and not override:
        what = conflicts + [f"--set {k}={v}" for k, v in changed_sets.items()]
        raise GankitError(f"--resume {resume}: {', '.join(what)} conflicts with the run's "
                          "config; pass --override to change it anyway")
    merged = dataclasses.asdict(saved)
    for k in explicit:
        if k in TrainOptions.RESUMABLE or override:
            if k in options.extra or k in saved.extra:
                merged["extra"][k] = options.extra.get(k)
            elif k == "data_options":
                merged[k] = {**saved.data_options, **options.data_options}
            else:
                merged[k] = getattr(options, k)
    if options.steps is None and "epochs" not in explicit:
        merged["steps"] = saved.steps
    merged["betas"] = tuple(merged["betas"]) if merged.get("betas") else None
    merged["log"] = tuple(merged.get("log") or ())
    return TrainOptions(**merged)


def _check_version(checkpoint, model) -> None:
    if checkpoint.model != model.name:
        raise CheckpointError(
            f"{checkpoint.path}: a '{checkpoint.model}' checkpoint, not '{model.name}'")
    if str(checkpoint.model_version) != str(model.version):
        raise CheckpointError(
            f"{checkpoint.path}: made with version {checkpoint.model_version} of model "
            f"'{model.name}', installed is version {model.version}; use the plugin release "
            "it was trained with")


def _fill_defaults(options, model, plugins, explicit, resuming, loss=None):
    defaults = model.training_defaults()
    for key in ("batch_size", "lr", "betas", "loss"):
        if getattr(options, key) is None:
            setattr(options, key, defaults.get(key))
    if loss is None and options.loss:
        loss = plugins.losses().get(options.loss)
    if loss is not None and not resuming:
        for key, value in (loss.optimizer or {}).items():
            if key in ("lr", "betas") and key not in explicit:
                setattr(options, key, value)
    options.betas = tuple(options.betas) if options.betas else (0.5, 0.999)
    return loss


def _load_domains(model, plugins, options):
    with console.lazy_progress("decoding images") as progress:
        domains = as_domains(model.load_data(plugins, options, progress))
    main = next(iter(domains.values()))
    if main.spec.kind == "image":
        options.image_size = main.spec.size
    return domains


def plan(options: TrainOptions, plugins=None, *, sets: dict | None = None, explicit=(),
         resume: str | None = None, override: bool = False, config=None, data=None,
         loss=None, run: Run | None = None) -> Plan:
    """Turn ``options`` (not changed) into a :class:`Plan`, or raise one clear error.

    ``explicit`` names the options the user gave (they win over saved ones on resume and
    over a loss's suggested optimizer); ``sets`` are ``--set`` model options; ``config``,
    ``data`` (a ``Data`` or ``{domain: Data}``), ``loss`` (a ``Loss`` object) and ``run``
    replace what the plan would build, look up or load (the test kit passes its own).
    """
    from ..plugins import get_plugins  # the plugin manager (importlib.metadata): when used

    plugins = plugins or get_plugins()
    options = options.normalised()
    sets, data_sets = split_sets(dict(sets or {}))
    # explicit options: TrainOptions fields, and models' own flags (kept in extra)
    explicit = set(explicit) & ({f.name for f in dataclasses.fields(TrainOptions)}
                                | (set(options.extra) - {"download", "cache"}))
    if data_sets:
        options.data_options = {**options.data_options, **data_sets}
        explicit.add("data_options")
    if resume:
        run, checkpoint = Run.for_resume(resume)
        try:
            saved = TrainOptions.from_saved(checkpoint.train)
        except Exception:  # noqa: BLE001 - _resumed_options names the file
            saved = None
        # bare names mean what they meant when the run trained, whatever is installed now
        plugins.pin(pins_for(checkpoint, plugins, saved))
        try:
            return _plan(options, plugins, sets, explicit, resume, override, config, data,
                         loss, run, checkpoint)
        except PluginGoneError as exc:
            raise CheckpointError(f"{checkpoint.path}: {exc}") from None
        finally:
            plugins.pin({})
    return _plan(options, plugins, sets, explicit, resume, override, config, data, loss, run,
                 None)


def _plan(options, plugins, sets, explicit, resume, override, config, data, loss, run,
          checkpoint) -> Plan:
    if checkpoint is not None:
        options = _resumed_options(options, checkpoint, sets, explicit, override, resume,
                                   plugins)
        if options.model not in plugins.models():
            raise CheckpointError(f"{checkpoint.path}: needs model '{options.model}', which "
                                  "no installed plugin provides")
    model = plugins.models().get(options.model)
    notes = [n for n in (plugins.models().shadow_note(options.model or ""),) if n]
    if checkpoint is not None:
        _check_version(checkpoint, model)
    if loss is not None:
        options.loss = loss.name
    suggested = set() if checkpoint is not None else apply_suggestions(options, model,
                                                                        plugins, explicit)
    loss = _fill_defaults(options, model, plugins, explicit | suggested,
                          checkpoint is not None, loss)
    if options.loss and loss is not None and options.loss in plugins.losses():
        notes += [n for n in (plugins.losses().shadow_note(options.loss),) if n]
    check_numbers(options)
    if "log" in explicit:  # `--log NAME` switches on a plugin: one that is installed
        known = {str(n).lower() for n in getattr(plugins, "records", {})}
        for name in options.log or ():
            if str(name).strip().lower() not in known:
                raise UsageError(f"--log {name}: no installed plugin has that name "
                                 "(`gankit plugins` lists them), e.g. --log tensorboard")

    if options.conditional and not getattr(model, "can_be_conditional", False):
        raise UsageError(f"--conditional: model '{model.name}' cannot be class-conditional "
                         "(gankit list-models shows the models that can)")
    if config is None:
        config = _config(model, checkpoint, sets, override)
    if checkpoint is None and data is None:
        precheck_size(model, config, plugins, options, sets, loss)
    domains = as_domains(data) if data is not None else _load_domains(model, plugins, options)
    notes += _labels(model, options, domains, checkpoint)
    _check_fit(model, config, domains, checkpoint, loss, sets)

    sizes = [len(d) for d in domains.values()]
    if options.batch_size > min(sizes):
        console.warn(f"--batch-size {options.batch_size} is larger than the data set "
                     f"({min(sizes)} samples); using {min(sizes)}")
        options.batch_size = min(sizes)
    if options.steps is None:
        options.steps = (steps_for_epochs(options.epochs, max(sizes), options.batch_size)
                         if options.epochs else
                         model.training_defaults().get("steps", DEFAULT_STEPS))
    check_numbers(options)
    notes += flip_choice(options, domains)  # first: text or digits change the recommendation
    notes += small_data_choices(options, model, domains)
    if checkpoint is not None:
        checkpoint.state_layout()  # an edited state skeleton: its own error first
        if run is None:
            raise not_a_run(resume)
    if run is None:
        run = _new_run(dataclasses.replace(options, model=model.name))  # not PLUGIN:NAME
    return Plan(model=model, config=config, options=options, loss=loss, data=domains,
                run=run, plugins=plugins, checkpoint=checkpoint, notes=notes)


def _labels(model, options, domains: dict, checkpoint) -> list:
    """A conditional run: the main data's spec gets its class names (before anything is
    built); ``--balance-classes`` needs labels; a resume keeps the run's classes."""
    main = next(iter(domains.values()))
    what = f"data set '{main.spec.name or options.dataset or 'data'}'"
    if options.balance_classes and not main.labelled:
        raise UsageError(f"--balance-classes: {what} has no class labels; drop the flag")
    if not options.conditional:
        return []
    main.spec = conditional_spec(model, main, what)
    if checkpoint is not None:
        saved = tuple(str(c) for c in (checkpoint.data or {}).get("classes") or ())
        if saved != main.spec.classes:
            raise CheckpointError(
                f"{checkpoint.path}: trained on {len(saved)} classes ({', '.join(saved[:4])}"
                f"{', ...' if len(saved) > 4 else ''}), the data have {main.spec.num_classes}"
                f" ({', '.join(main.spec.classes[:4])}{', ...' if main.spec.num_classes > 4 else ''})"
                "; resume with the data the run was trained on")
    note = imbalance_note(main)
    if note and not options.balance_classes:
        console.warn(note)
    return [f"conditional on {main.spec.num_classes} classes"
            + (", drawn equally" if options.balance_classes else "")]


def _config(model, checkpoint, sets: dict, override: bool):
    """The model's Config: the checkpoint's (``--set`` only with ``--override``), or the
    defaults with ``--set`` applied."""
    if checkpoint is None:
        return apply_sets(model.default_config(), sets, what=model.name)
    try:
        config = from_dict(model.Config, checkpoint.config, strict=False)
    except GankitError as exc:
        raise CheckpointError(f"{checkpoint.path}: {exc}") from None
    return apply_sets(config, sets, what=model.name) if override else config


def _check_fit(model, config, domains: dict, checkpoint, loss, sets: dict) -> None:
    """The model accepts the data, and, before anything is allocated, the networks fit
    in memory (a new run) or the file's tensors fit its config (a resume)."""
    spec = next(iter(domains.values())).spec
    try:
        try:
            model.check(config, spec)
        except (GankitError, TypeError, ValueError) as exc:
            if spec.kind in model.data_kinds or "--image-size" not in str(exc):
                raise  # a model's own words (wgan-gp on ring8 names vanilla)
            check_data_kind(model, spec)  # dcgan on ring8: the kind, not "--image-size 0"
            raise
        for name, d in domains.items():
            check_data_kind(model, d.spec, name)
    except (GankitError, TypeError, ValueError) as exc:
        if checkpoint is None or isinstance(exc, UsageError):
            raise
        raise CheckpointError(f"{checkpoint.path}: {exc}") from None
    model.check_data(config, domains)  # the model's own look at the loaded data
    if checkpoint is None:
        bounds.check_model_memory(model, config, spec, loss, sets)
    else:
        check_fits(checkpoint, model, config, spec, loss)


def _new_run(options: TrainOptions) -> Run:
    if not engine.is_distributed():
        return Run.new(options.out, options.name, options.model)
    # under torchrun every process must use the folder the main process picked
    engine.init_distributed(engine.pick_device(options.device))
    path = Run.new(options.out, options.name, options.model).path if engine.rank() == 0 else ""
    return Run(engine.broadcast_text(str(path)))
