"""Rebuilding trained networks from a checkpoint, after checking that they fit."""

from __future__ import annotations

from dataclasses import dataclass

from .bounds import no_init as _no_init
from .checkpoint_checks import validate_weights
from .config import from_dict
from .datasets import DataSpec
from .dataload import check_data_kind
from .errors import CheckpointError, GankitError
from .options import TrainOptions
from .run import Run
from .registry import recorded_names, split_qualified


def check_fits(c, model, config, spec, loss=None, wanted=None) -> None:
    """Refuse a checkpoint whose metadata describes networks that its tensors do not
    match, before anything is allocated: the networks are built on torch's ``meta``
    device (shapes only) and compared with the shapes in the file's header. Edited or
    hostile metadata (``ngf=10**9``) fails here instead of exhausting memory."""
    import torch

    def meta_shapes(cfg):
        with torch.device("meta"), _no_init():
            nets = model.build(cfg, spec, loss)
        return {f"{k}.{n}": tuple(t.shape) for k, net in nets.items()
                if not wanted or k in wanted for n, t in net.state_dict().items()}

    try:
        expected = meta_shapes(config)
    except Exception as exc:  # noqa: BLE001
        try:
            meta_shapes(model.default_config())
        except Exception:  # noqa: BLE001 - this model cannot build on meta: the load checks
            return
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(f"{c.path}: metadata does not describe a buildable model "
                              f"({type(exc).__name__}: {first[:200]})") from None
    found = c.shapes("s.nets.")
    for key, shape in expected.items():
        if found.get(key) != shape:
            got = "missing" if key not in found else f"{list(found[key])}"
            raise CheckpointError(
                f"{c.path}: weights do not fit model '{model.name}' as its metadata describes "
                f"it ({key}: file has {got}, the config needs {list(shape)})"
            )


def model_of(c, plugins):
    """The registered model that trained checkpoint ``c``: the one its plugin registered
    (``gankit.names``, or ``gankit.plugin`` in older checkpoints), whatever else now
    registers the same name; one error line naming the file when that plugin is gone."""

    models = plugins.models()
    made_by = f"it was made by plugin '{c.plugin}'" if c.plugin else ""
    if c.plugin and c.plugin_version:
        made_by += f" {c.plugin_version}"
    wanted = recorded_names(c).get("model")
    if wanted and wanted in models:
        return models.get(wanted)
    if wanted and c.model in models:  # the name is there, but from another plugin
        plugin = split_qualified(wanted)[0]
        gone = plugin not in plugins.records
        try:
            other = f"'{models.qualified(c.model)}' is another model of that name"
        except GankitError:
            other = "other plugins register that name"
        raise GankitError(
            f"{c.path}: needs model '{wanted}', but plugin '{plugin}' "
            + ("is not installed" if gone else f"no longer registers '{c.model}'")
            + f" ({made_by}; install it: {other})")
    if c.model not in models:
        raise GankitError(
            f"{c.path}: needs model '{c.model}', which no installed plugin provides"
            + (f" ({made_by}; install it)" if made_by else "")
        )
    return models.get(c.model)


def load_model(target, plugins=None, device="cpu", nets_wanted=None, ema: bool = True):
    """Rebuild a trained model from a checkpoint: (model, config, spec, nets, checkpoint).

    Only the networks in ``model.generator_nets`` (or ``nets_wanted``) are built and
    loaded, in eval mode. Where the run kept an EMA generator (the default for
    unconditional models), its averaged weights are loaded in place of the trained
    ones; ``ema=False`` gives the raw generator (``--no-ema``).
    """
    import torch

    from .plugins import get_plugins  # the plugin manager (importlib.metadata): when used

    plugins = plugins or get_plugins()
    c = Run.find_checkpoint(target)
    model = model_of(c, plugins)
    if str(c.model_version) != str(model.version):
        raise CheckpointError(
            f"{c.path}: made with version {c.model_version} of model '{model.name}', installed "
            f"is version {model.version}; use the plugin release it was trained with"
        )
    try:
        config = from_dict(model.Config, c.config, strict=True)
        spec = from_dict(DataSpec, c.data, strict=False)  # type-checked, unlike DataSpec.from_dict
    except (GankitError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{c.path}: metadata does not describe a valid model ({exc})") from None
    try:
        model.check(config, spec)
        check_data_kind(model, spec)
    except (GankitError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{c.path}: metadata does not describe a buildable model ({exc})") from None
    wanted = None if nets_wanted == "all" else tuple(nets_wanted or model.generator_nets)
    check_fits(c, model, config, spec, None)  # all: build() below makes every network
    torch.manual_seed(0)
    nets = {k: v for k, v in model.build(config, spec, None).items()
            if wanted is None or k in wanted}
    weights = c.tensors("s.nets.", device="cpu")
    validate_weights(c, nets, weights)  # dtypes and finite values, EMA too, before loading
    if ema:  # the averaged generator(s) where the run kept them
        weights.update(c.tensors("s.ema.", device="cpu"))
    for k, net in nets.items():
        prefix = f"{k}."
        sd = {n[len(prefix):]: t for n, t in weights.items() if n.startswith(prefix)}
        try:
            net.load_state_dict(sd)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{c.path}: weights do not fit model '{model.name}' ({str(exc).splitlines()[0]})"
            ) from None
        net.to(device).eval()
    return model, config, spec, nets, c



@dataclass
class LoadedRun:
    """Everything :func:`load_run` rebuilds from a checkpoint."""

    model: object
    config: object
    spec: object  # DataSpec
    nets: dict  # every network, with the trained weights, eval mode
    ema: dict  # the EMA copies of the generators, where the run kept them
    options: object  # TrainOptions
    checkpoint: object  # Checkpoint
    run: object | None  # Run, when the checkpoint is inside a run folder

    @property
    def generators(self) -> dict:
        """The networks sampling uses: the EMA copies where present, else the trained."""
        return {k: self.ema.get(k, self.nets[k]) for k in self.model.generator_nets
                if k in self.nets}


def load_run(target, plugins=None, device="cpu") -> LoadedRun:
    """A run folder or checkpoint rebuilt whole: every network (not only the
    generators), the EMA generators, the model config, the data spec and the training
    options; checked as :func:`load_model` checks (one clear error naming the file)."""
    import copy

    model, config, spec, nets, c = load_model(target, plugins=plugins, device=device,
                                              nets_wanted="all", ema=False)
    ema = {}
    for k in model.generator_nets:
        sd = c.tensors(f"s.ema.{k}.", device="cpu")
        if k in nets and sd:
            averaged = copy.deepcopy(nets[k])
            averaged.load_state_dict(sd)
            ema[k] = averaged.to(device).eval()
    try:
        options = TrainOptions.from_saved(c.train)
    except GankitError as exc:
        raise CheckpointError(f"{c.path}: {exc}") from None
    return LoadedRun(model=model, config=config, spec=spec, nets=nets, ema=ema,
                     options=options, checkpoint=c, run=Run.of_checkpoint(c.path))

