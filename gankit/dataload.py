"""Loading a run's data: which data set the options mean, its ``Config``, the loaded
:class:`~gankit.datasets.Data` checked against the model's ``data_kinds``.

Beside :mod:`gankit.datasets` (what a data set provides) in the contract layer: the
training plan, the models' default ``load_data``, ``load_model`` and the data checks use
it; it imports nothing above the contract layer, and no torch.
"""

from __future__ import annotations

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
    )
    data = ds.load(lo)
    if data is None or len(data) == 0:
        raise GankitError((f"{flag}: " if flag else "") + f"data set '{name}'"
                          + (f" at {path}" if path else "") + " is empty")
    if not ds.flip:
        data.meta = {**(data.meta or {}), "flip": False}  # the batcher honours it
    # which data set it was (PLUGIN:NAME), recorded in config.json and checkpoints
    data.meta = {**(data.meta or {}), DATASET_META: datasets.qualified(ds)}
    return data


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
