""":func:`check_model` in stages: the model's descriptor, its inputs, the networks it
builds, what its generator gives, one training run through the real trainer, the
checkpoint's round trip, a resume, and the EMA copy and augmentation the trainer adds."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
from pathlib import Path

from .. import console
from ..checkpoints import Checkpoint
from ..config import apply_sets
from ..dataload import as_domains
from ..datasets import Data, DataSpec
from ..loading import load_model
from ..losses import Loss
from ..models import TRANSLATION, UNCONDITIONAL, GANModel
from ..run import Run
from ..train import TrainOptions, plan
from .base import _DEFAULT, _ensure_registered, _fail, _json_ok, builtin_plugins


def _check_descriptor(model) -> None:
    cls = type(model).__name__
    if not isinstance(model, GANModel):
        _fail(f"{cls} is not a gankit.GANModel")
    if not model.name or not isinstance(model.name, str) or model.name != model.name.strip():
        _fail(f"{cls}.name must be a non-empty string (what users type after `gankit train`)")
    if model.kind not in (UNCONDITIONAL, TRANSLATION):
        _fail(f"{cls}.kind is {model.kind!r}; use gankit.UNCONDITIONAL or gankit.TRANSLATION")
    if not isinstance(model.version, str) or not model.version:
        _fail(f"{cls}.version must be a non-empty string such as \"1\" "
              "(it is stored in every checkpoint)")
    if not dataclasses.is_dataclass(model.Config):
        _fail(f"{cls}.Config must be a dataclass (its fields are the --set options)")
    try:
        model.default_config()
    except TypeError as exc:
        _fail(f"{cls}.Config() needs a default for every field ({exc})")
    if not model.generator_nets:
        _fail(f"{cls}.generator_nets is empty; name the networks sampling needs")
    _json_ok(model.describe(), cls)


def _random_data(spec, n: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    if spec.kind == "vector":
        samples = torch.randn((n, spec.dim), generator=g)
    else:
        samples = torch.randint(0, 256, (n, *spec.shape), generator=g, dtype=torch.uint8)
    data = Data(samples=samples, spec=spec, names=[f"random-{i}" for i in range(n)])
    if spec.classes:  # labelled: sample i is of class i mod K
        data.labels = torch.arange(n) % len(spec.classes)
        data.classes = list(spec.classes)
    return data


def _params(nets: dict, names) -> dict:
    return {f"{k}.{n}": t.detach().clone() for k in names
            for n, t in nets[k].state_dict().items()}



def check_model(model, spec=None, *, plugins=None, loss=_DEFAULT, config=None, sets=None,
                batch_size: int = 4, steps: int = 1, workdir=None, data=None,
                conditional: bool = False) -> dict:
    """Check a model's whole contract on the CPU; returns a dict with the ``trainer``,
    the ``checkpoint`` path, the ``metrics`` of the last step and the reloaded ``nets``.

    :param model: a :class:`gankit.GANModel` instance or a registered name.
    :param spec: the :class:`gankit.DataSpec` to build for (default: 3-channel images at
        the model's default ``image_size``); the data are random samples of that spec.
    :param plugins: the manager to resolve names in (default: :func:`builtin_plugins`);
        pass the one :func:`check_plugin` returned to use your own losses.
    :param loss: a :class:`gankit.Loss`, a registered loss name, or None; default: the
        model's default loss (``defaults["loss"]``).
    :param config: a ``model.Config`` instance; or ``sets``: ``{"key": value}`` applied as
        ``--set key=value`` would be (use them to make the networks tiny).
    :param batch_size: samples per step; ``steps``: training steps to run.
    :param workdir: folder for the throw-away run (default: a temporary folder).
    :param data: the data to train on: a :class:`gankit.Data` or ``{domain: Data}`` (the
        first is the main data; ``spec`` defaults to its spec). Default: random samples
        of ``spec`` ("A", and "B" for translation models). Either way the model's own
        ``load_data`` is not called (the data go to the plan as given, as
        ``gankit.train.plan(data=...)`` does); ``check_data`` is.
    :param conditional: train the model class-conditional, as ``gankit train
        --conditional`` does: on labelled data (``data`` with labels, or random samples of
        three classes, or of ``spec.classes``); also checks that the generator's samples
        depend on the class.
    """
    p = plugins if plugins is not None else builtin_plugins()
    if isinstance(model, str):
        model = p.models().get(model)
    _check_descriptor(model)
    domains, spec, config, loss = _inputs(model, p, spec, config, sets, loss, data)
    spec = _conditional_spec(model, spec, domains, conditional)
    labels3 = _labels3(spec) if conditional else None
    model.check(config, spec)
    nets = _check_build(model, config, spec, loss)
    if model.kind == UNCONDITIONAL:
        _check_generate(model, config, spec, nets, labels3)

    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="gankit-check-")))
        _ensure_registered(p, model)
        run_plan = _plan(model, p, spec, config, loss, domains, root, batch_size, steps,
                         conditional)
        trainer, metrics, augmented = _check_training(model, run_plan, steps)
        path, c, loaded = _check_round_trip(model, p, config, trainer, run_plan.run.path, steps,
                                            labels3)
        _check_resume(model, run_plan, trainer, c, steps)
        if model.kind == UNCONDITIONAL:
            _check_ema(model, p, spec, trainer, path, c, augmented)
    return {"trainer": trainer, "checkpoint": path, "metrics": metrics, "nets": loaded,
            "augmentation_reaches_d": augmented}


def _inputs(model, p, spec, config, sets, loss, data):
    """The domains (or None), spec, config and loss the check runs with."""
    defaults = model.training_defaults()
    domains = None
    if data is not None:
        domains = as_domains(data)  # the data as named domains, as the plan takes them
        if spec is None:
            spec = next(iter(domains.values())).spec
    if config is None:
        config = model.default_config()
    if sets:
        config = apply_sets(config, {k: str(v) for k, v in sets.items()}, what=model.name)
    if spec is None:
        spec = DataSpec(kind="image", channels=3, size=int(defaults.get("image_size") or 32),
                        name="random")
    if loss is _DEFAULT:
        loss = defaults.get("loss")
    if isinstance(loss, str):
        loss = p.losses().get(loss)
    if loss is not None and not isinstance(loss, Loss):
        _fail(f"loss must be a gankit.Loss, a registered name or None, not {type(loss).__name__}")
    return domains, spec, config, loss


def _conditional_spec(model, spec, domains, conditional: bool):
    """The spec a conditional check trains with: the labelled data's classes (or three
    made-up ones); an unconditional check drops any classes."""
    if not conditional:
        return dataclasses.replace(spec, classes=()) if spec.classes else spec
    if not getattr(model, "can_be_conditional", False):
        _fail(f"{model.name}: conditional=True, but the model does not set "
              "can_be_conditional = True")
    if domains is not None:
        main = next(iter(domains.values()))
        if not main.labelled:
            _fail("conditional=True needs labelled data (Data.labels and Data.classes)")
        return dataclasses.replace(spec, classes=tuple(map(str, main.classes)))
    if not spec.classes:
        return dataclasses.replace(spec, classes=("c0", "c1", "c2"))
    return spec


def _labels3(spec):
    import torch

    return torch.arange(3) % max(1, len(spec.classes))


def _check_build(model, config, spec, loss) -> dict:
    """The networks ``build()`` returns, checked: a non-empty dict of modules."""
    import torch

    torch.manual_seed(0)
    nets = model.build(config, spec, loss)
    if not isinstance(nets, dict) or not nets:
        _fail(f"{model.name}.build() must return a non-empty dict name -> torch.nn.Module, "
              f"got {type(nets).__name__}")
    for k, net in nets.items():
        if not isinstance(net, torch.nn.Module):
            _fail(f"{model.name}.build()['{k}'] is a {type(net).__name__}, not a torch.nn.Module")
    missing = [g for g in model.generator_nets if g not in nets]
    if missing:
        _fail(f"{model.name}.generator_nets names {missing} but build() returned {sorted(nets)}")
    return nets


def _check_generate(model, config, spec, nets, labels3=None) -> None:
    """Forward shapes: ``latent()`` and ``generate()`` give samples of the data's shape
    and range."""
    import torch

    z = model.latent(config, 3)
    if not isinstance(z, torch.Tensor) or z.shape[0] != 3 or not z.is_floating_point():
        _fail(f"{model.name}.latent(config, 3) must return a float tensor with 3 rows")
    for net in nets.values():
        net.eval()
    with torch.no_grad():
        out = model.generate(nets, z) if labels3 is None else model.generate(nets, z, labels3)
        if labels3 is not None:
            other = model.generate(nets, z, (labels3 + 1) % len(spec.classes))
            if torch.equal(out, other):
                _fail(f"{model.name}.generate(nets, z, labels) gives the same samples for "
                      "other labels; does the generator use them?")
    want = (3, *spec.shape)
    if tuple(out.shape) != want:
        _fail(f"{model.name}.generate() gave shape {tuple(out.shape)} for {spec.kind} "
              f"data of shape {spec.shape}; expected {want}")
    if not torch.isfinite(out).all():
        _fail(f"{model.name}.generate() gave non-finite values")
    if spec.kind == "image" and (out.min() < -1.001 or out.max() > 1.001):
        _fail(f"{model.name}.generate() gave values in [{out.min():.3f}, {out.max():.3f}]; "
              "images must be in [-1, 1] (end the generator with tanh)")


def _plan(model, p, spec, config, loss, domains, root: Path, batch_size: int, steps: int,
          conditional: bool = False):
    """The same plan as `gankit train` (defaults, the loss's optimizer, checks), with the
    kit's random data (or the given domains) and this config."""
    n = max(2 * batch_size, 8)
    if domains is not None:
        data = domains
    else:
        data = {"A": _random_data(spec, n, 1)}
        if model.kind == TRANSLATION:
            data["B"] = _random_data(spec, n, 2)
    options = TrainOptions(
        model=model.name, dataset="random", batch_size=batch_size, steps=steps,
        loss=loss.name if loss is not None else None,
        image_size=spec.size if spec.kind == "image" else None, device="cpu",
        precision="fp32", out=str(root), name="check", sample_every=steps,
        checkpoint_every=steps, log_every=steps, keep_last=0, grid=4, compile=False,
        conditional=bool(conditional),
    )
    return plan(options, p, config=config, data=data, loss=loss)


def _make_trainer(run_plan):
    from ..train import Trainer  # torch: the trainer's modules import it

    return Trainer.from_plan(dataclasses.replace(run_plan, checkpoint=None))


def _check_training(model, run_plan, steps: int):
    """One training run through the real Trainer: it completes, reports finite losses,
    changes the generator and writes a sample grid. Returns the trainer, the last
    metrics and whether the step calls ``trainer.discriminate`` (so augmentation
    reaches D)."""
    import torch

    trainer = _make_trainer(run_plan)
    before = _params(trainer.nets, model.generator_nets)

    d_calls = []  # does the step call trainer.discriminate (so augmentation reaches D)?
    plain_discriminate = trainer.discriminate
    trainer.discriminate = lambda *a, **kw: d_calls.append(1) or plain_discriminate(*a, **kw)

    was_quiet = console.is_quiet()
    console.set_quiet(True)
    try:
        status = trainer.fit()
    finally:
        console.set_quiet(was_quiet)
    if status != "completed" or trainer.step != steps:
        _fail(f"{model.name}: training stopped at step {trainer.step} of {steps} ({status})")
    metrics = dict(trainer.last_metrics)
    if not metrics:
        _fail(f"{model.name}.train_step() returned no losses; return a dict of detached "
              "scalar tensors such as {'loss_d': ..., 'loss_g': ...}")
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        _fail(f"{model.name}: non-finite losses after {steps} step(s): {bad}")
    after = _params(trainer.nets, model.generator_nets)
    if all(torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point()):
        _fail(f"{model.name}: {steps} training step(s) left {', '.join(model.generator_nets)} "
              "unchanged; does train_step() call trainer.backward_step() for them?")
    sample_png = Run(run_plan.run.path).sample_path(steps)
    if not sample_png.exists():
        _fail(f"{model.name}: no sample grid was written ({sample_png})")
    return trainer, metrics, bool(d_calls)


def _check_round_trip(model, p, config, trainer, run_dir, steps: int, labels3=None):
    """The checkpoint's metadata, and ``load_model`` (what ``gankit sample`` uses)
    rebuilding the same generator. Returns the path, the :class:`Checkpoint` and the
    reloaded networks."""
    import torch

    path = Run(run_dir).checkpoint_path(steps)
    if not path.exists():
        _fail(f"{model.name}: no checkpoint was written ({path})")
    c = Checkpoint(path)
    if (c.model, c.model_version, c.step) != (model.name, str(model.version), steps):
        _fail(f"{path.name}: metadata says model {c.model!r} version {c.model_version!r} "
              f"step {c.step}, expected {model.name!r} {model.version!r} {steps}")
    _m, _cfg, _spec, loaded, _c = load_model(path, plugins=p, device="cpu", ema=False)
    reloaded = _params(loaded, model.generator_nets)
    after = _params(trainer.nets, model.generator_nets)
    for k, t in after.items():
        if k not in reloaded or not torch.equal(reloaded[k], t):
            _fail(f"{model.name}: '{k}' differs after the checkpoint round trip")
    if model.kind == UNCONDITIONAL:
        z = model.latent(config, 2, generator=torch.Generator().manual_seed(3))
        for net in trainer.nets.values():
            net.eval()
        y = None if labels3 is None else labels3[:2]
        with torch.no_grad():
            a = (model.generate(trainer.nets, z) if y is None
                 else model.generate(trainer.nets, z, y)).float()
            b = (model.generate(loaded, z) if y is None else model.generate(loaded, z, y)).float()
        # same weights; the trainer's copy may run channels_last, so allow rounding
        if not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
            _fail(f"{model.name}: the reloaded generator gives different samples "
                  f"(max difference {float((a - b).abs().max()):.3g})")
    return path, c, loaded


def _check_resume(model, run_plan, trainer, c, steps: int) -> None:
    """The full training state loads back into a fresh trainer."""
    import torch

    again = _make_trainer(run_plan)
    again.resume_from(c)
    full_before, full_after = _params(trainer.nets, trainer.nets), _params(again.nets,
                                                                           again.nets)
    for k, t in full_before.items():
        if not torch.equal(full_after[k], t):
            _fail(f"{model.name}: '{k}' differs after resuming from the checkpoint")
    if again.step != steps:
        _fail(f"{model.name}: resumed at step {again.step}, expected {steps}")


def _check_ema(model, p, spec, trainer, path, c, augmented: bool) -> None:
    """EMA and augmentation (both come from the trainer): the checkpoint holds an EMA
    copy of every generator network and ``load_model`` returns it; a warning when the
    step never calls ``trainer.discriminate``."""
    import torch

    missing = [k for k in model.generator_nets if k in trainer.nets
               and not c.shapes(f"s.ema.{k}.")]
    if missing:
        _fail(f"{model.name}: the checkpoint holds no EMA copy of {', '.join(missing)}")
    _m, _cfg, _spec, averaged, _c = load_model(path, plugins=p, device="cpu")
    for k, e in trainer.ema.items():
        for name, t in e.module.state_dict().items():
            if not torch.equal(averaged[k].state_dict()[name].cpu(), t.cpu()):
                _fail(f"{model.name}: load_model did not return the EMA copy of '{k}'")
    if spec.kind == "image" and not augmented:
        console.warn(f"{model.name}: train_step never calls trainer.discriminate(), so "
                     "--augment cannot reach its discriminator (docs/plugins.md)")
