"""The choices a plan makes for the user where the user made none: a data set's
suggested options, EMA and augmentation for small data, random flips for text and
digits. Each returns the notes ``gankit train`` prints about what it chose."""

from __future__ import annotations

import dataclasses
import math

from ..dataload import dataset_name
from ..errors import GankitError, UsageError
from ..models import UNCONDITIONAL
from ..options import TrainOptions

#: EMA half-life in thousands of images for unconditional models
DEFAULT_EMA_KIMG = 10.0
#: augmentation is on by default for image data sets smaller than this
AUGMENT_BELOW = 5000
DEFAULT_POLICY = "color,translation,cutout"
SMALL_DATA = 1000


def apply_suggestions(options, model, plugins, explicit) -> set:
    """A data set's suggested training options where the user set none (they win over
    the loss's and the model's defaults). Returns the options it set. A suggested
    ``decay_from`` comes only with the suggested ``steps`` it was meant for."""
    name = dataset_name(model, options.dataset, options.data, fallback=None)
    if not name or name not in plugins.datasets():
        return set()
    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    done = set()
    suggested = plugins.datasets().get(name).suggested
    for key, value in suggested.items():
        if key in explicit or (key == "steps" and options.epochs):
            continue
        if key in fields and getattr(options, key) is None:
            setattr(options, key, value)
            done.add(key)
    if "decay_from" in suggested and "decay_from" not in options.extra and (
            "steps" in done or "steps" not in suggested):
        options.extra["decay_from"] = suggested["decay_from"]
    return done


def small_data_choices(options: TrainOptions, model, domains) -> list[str]:
    """Fill in the EMA and augmentation defaults; say what was chosen and why."""
    from ..augment import parse_policy  # torch: only when a run is planned

    notes = []
    unconditional = model.kind == UNCONDITIONAL
    if options.ema is None:
        options.ema = DEFAULT_EMA_KIMG if unconditional else 0.0
    if not (math.isfinite(options.ema) and options.ema >= 0):
        raise UsageError(f"--ema {options.ema}: a half-life in thousands of images, 0 for none")
    main = next(iter(domains.values()))
    n = len(main)
    images = main.spec.kind == "image"
    own = model.training_defaults().get("augment") if images else None
    if options.augment is None and own:  # the model's own default, whatever the data size
        options.augment = own
        if own != "none":
            notes.append(f"augmentation: DiffAugment {own} before D ({model.name}'s default; "
                         "--augment none turns it off)")
    elif options.augment is None:
        auto = unconditional and images and n < AUGMENT_BELOW
        options.augment = DEFAULT_POLICY if auto else "none"
        if auto:
            notes.append(f"augmentation: DiffAugment {DEFAULT_POLICY} before D (on by default "
                         f"below {AUGMENT_BELOW:,} images; --augment none turns it off)")
    try:
        policy = parse_policy(options.augment)
    except GankitError as exc:
        raise UsageError(f"--augment {options.augment}: {exc}") from None
    options.augment = ",".join(policy) if policy else "none"
    if policy and not images:
        raise UsageError(f"--augment {options.augment}: augmentation is for image data")
    for flag, value in (("--augment-p", options.augment_p), ("--ada-target", options.ada_target)):
        if value is not None and not 0 <= value <= 1:
            raise UsageError(f"{flag} {value}: must be in [0, 1]")
    if unconditional and images and n < SMALL_DATA:
        on = [w for w, yes in (("augmentation", bool(policy)), ("an EMA generator",
                                                                 options.ema > 0)) if yes]
        notes.append(f"{n} images is a small data set: GANs memorise or collapse on few "
                     "images" + (f"; gankit uses {' and '.join(on)} for it" if on else "")
                     + " (docs/small-data.md)")
        from ..datacheck import recommend_model  # only for a small image data set

        # flips off (text or digits, by the data set or the folder's look, or asked for):
        # pictures of symbols, where pretrained photo features help least
        best, why = recommend_model(n, symbols=options.flip is False)
        if best != model.name:
            notes.append(f"recommended for {n} images: gankit train {best}: {why}")
    return notes


def flip_choice(options: TrainOptions, domains) -> list[str]:
    """``--flip`` unset: flips stay on unless the data set refuses them (digits) or an
    image folder looks like text or digits by ``gankit data check``'s heuristic."""
    if options.flip is not None:
        return []
    options.flip = True
    main = next(iter(domains.values()))
    if main.spec.kind != "image" or not (main.meta or {}).get("flip", True):
        return []
    from ..datacheck import flip_verdict_for_samples  # only for an image folder

    verdict = flip_verdict_for_samples(main.samples)
    if verdict["verdict"] != "unsafe":
        return []
    options.flip = False
    return [f"flips: off, the images look like text or digits ({verdict['reason']}); "
            "--flip turns them on"]
