"""Loading a run's data: which data set the options mean, its ``Config``, the loaded
:class:`~gankit.datasets.Data` checked against the model's ``data_kinds``.

Beside :mod:`gankit.datasets` (what a data set provides) in the contract layer: the
training plan, the models' default ``load_data``, ``load_model`` and the data checks use
it; it imports nothing above the contract layer, and no torch.
"""

from __future__ import annotations

import dataclasses

from . import console
from .config import apply_sets
from .datasets import LoadOptions
from .errors import GankitError, UsageError
from .registry import DATASET_META

#: the data set a run trains on when neither the options nor the model name one
DEFAULT_DATASET = "sushi"


def dataset_name(model, dataset: str | None = None, path=None, *,
                 fallback: str | None = DEFAULT_DATASET) -> str | None:
    """The data set a run means: ``--dataset``, else ``imagefolder`` for ``--data PATH``,
    else the model's default data set, else ``fallback``."""
    return dataset or ("imagefolder" if path else
                       model.training_defaults().get("dataset") or fallback)


def load_data(plugins, model, options, *, path, name, progress=None,
              image_size: int | None = None, flag: str = ""):
    """Load one data set for ``model`` as the flags ask (``image_size`` overrides
    ``options.image_size``; ``flag`` names the data flag in errors, e.g. ``--data-b``)."""
    name = dataset_name(model, name, path)
    datasets = plugins.datasets()
    ds = datasets.get(name)
    if datasets.shadow_note(name):
        console.info(datasets.shadow_note(name))
    if ds.needs_path and not path:
        raise UsageError(f"--dataset {name} needs --data PATH (a folder with its files)")
    lo = LoadOptions(
        config=data_config(ds, options.data_options),
        path=path,
        image_size=image_size or options.image_size,
        grayscale=options.grayscale,
        download=bool(options.extra.get("download", False)),
        cache=bool(options.extra.get("cache", True)),
        seed=options.seed,
        warn=console.warn,
        progress=progress,
        extra=dict(options.extra),
        labels=getattr(options, "labels", "auto") or "auto",
    )
    data = ds.load(lo)
    if data is None or len(data) == 0:
        raise GankitError((f"{flag}: " if flag else "") + f"data set '{name}'"
                          + (f" at {path}" if path else "") + " is empty")
    check_labels(data, f"data set '{name}'")
    if not ds.flip:
        data.meta = {**(data.meta or {}), "flip": False}  # the batcher honours it
    # which data set it was (PLUGIN:NAME), recorded in config.json and checkpoints
    data.meta = {**(data.meta or {}), DATASET_META: datasets.qualified(ds)}
    return data


#: the most classes a conditional run trains on (the embedding tables grow with them)
MAX_CLASSES = 1000
#: the fewest images a class of a conditional run holds
MIN_PER_CLASS = 2


def check_labels(data, what: str) -> None:
    """A data set's labels, when it has any: one integer per sample, each naming one of
    its classes (a plugin's mistake is one line naming the data set)."""
    if data.labels is None and not data.classes:
        return
    if data.labels is None or not data.classes:
        raise GankitError(f"{what}: sets {'classes' if data.classes else 'labels'} without "
                          f"{'labels' if data.classes else 'classes'}; a labelled Data has "
                          "both (docs/plugins.md, Data)")
    labels = data.labels
    shape = tuple(getattr(labels, "shape", ()))
    dtype = str(getattr(labels, "dtype", ""))
    if shape != (len(data),) or not any(t in dtype for t in ("int", "uint8")):
        raise GankitError(f"{what}: labels must be an integer tensor of shape ({len(data)},), "
                          f"one per sample, not {dtype or type(labels).__name__} {shape}")
    if len(set(map(str, data.classes))) != len(data.classes):
        raise GankitError(f"{what}: class names repeat ({', '.join(map(str, data.classes[:5]))}"
                          "...); give each class its own name")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= len(data.classes):
        bad = low if low < 0 else high
        raise GankitError(f"{what}: a label of {bad} for {len(data.classes)} classes; labels "
                          f"are 0 to {len(data.classes) - 1}")


def conditional_spec(model, data, what: str):
    """The main data's spec for a class-conditional run of ``model`` (its class names),
    refused in one line when the model cannot be conditional or the data cannot train
    one."""
    if not getattr(model, "can_be_conditional", False):
        raise UsageError(f"--conditional: model '{model.name}' cannot be class-conditional "
                         "(gankit list-models shows the models that can)")
    if not data.labelled:
        raise GankitError(f"--conditional: {what} has no class labels (an image folder needs "
                          "one subfolder per class, --labels folders); train without "
                          "--conditional")
    counts = data.class_counts()
    if len(counts) < 2:
        raise GankitError(f"--conditional: {what} has one class ({data.classes[0]}); a "
                          "conditional model needs at least 2")
    if len(counts) > MAX_CLASSES:
        raise GankitError(f"--conditional: {what} has {len(counts)} classes; at most "
                          f"{MAX_CLASSES} are supported")
    few = [(c, n) for c, n in zip(data.classes, counts) if n < MIN_PER_CLASS]
    if few:
        listed = ", ".join(f"'{c}' ({n})" for c, n in few[:3]) + (", ..." if len(few) > 3 else "")
        raise GankitError(f"--conditional: {what}: class {listed} has fewer than "
                          f"{MIN_PER_CLASS} images; add images or remove the class")
    return dataclasses.replace(data.spec, classes=tuple(str(c) for c in data.classes))


def imbalance_note(data) -> str:
    """A warning when the largest class holds over 10x the images of the smallest."""
    counts = data.class_counts()
    if len(counts) < 2 or min(counts) * 10 >= max(counts):
        return ""
    big, small = counts.index(max(counts)), counts.index(min(counts))
    return (f"the classes are imbalanced: '{data.classes[big]}' has {max(counts)} images, "
            f"'{data.classes[small]}' {min(counts)} (--balance-classes draws them equally)")


def data_config(ds, values: dict):
    """The data set's ``Config`` with ``--set data.KEY=VALUE`` applied (checked)."""
    return apply_sets(ds.Config(), {str(k): str(v) for k, v in (values or {}).items()},
                      what=f"data set '{ds.name}' (--set data.KEY=VALUE)")


def split_sets(sets: dict) -> tuple[dict, dict]:
    """``--set`` pairs -> (the model's, the data set's: ``data.KEY`` without ``data.``)."""
    model = {k: v for k, v in sets.items() if not k.startswith("data.")}
    data = {k[len("data."):]: v for k, v in sets.items() if k.startswith("data.")}
    return model, data


def as_domains(loaded) -> dict:
    """A model's ``load_data`` result as named domains: one ``Data``, a ``(data, data_b)``
    pair (the 0.1.0 form) or a dict."""
    if isinstance(loaded, dict):
        domains = dict(loaded)
    elif isinstance(loaded, (tuple, list)):
        domains = {k: v for k, v in zip(("A", "B", "C", "D"), loaded) if v is not None}
    else:
        domains = {"A": loaded}
    if not domains:
        raise GankitError("the model's load_data() returned no data")
    seen = set()
    for name in domains:  # checkpoint keys are batcher, batcher_<domain lowercased>
        if not (isinstance(name, str) and name.isidentifier() and name.isascii()) \
                or name.lower() in seen:
            raise GankitError(f"the model's load_data() returned a domain named {name!r}; "
                              "domain names are distinct ASCII identifiers, case ignored "
                              "(e.g. 'A', 'B')")
        seen.add(name.lower())
    return domains


def check_data_kind(model, spec, domain: str = "") -> None:
    """The model's declared ``data_kinds`` (checked here, so no model repeats it)."""
    if spec.kind not in model.data_kinds:
        raise GankitError(f"{model.name} needs {' or '.join(model.data_kinds)} data; "
                          f"'{spec.name or domain}' is {spec.kind} data "
                          "(gankit list-models shows each model's data)")
