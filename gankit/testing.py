"""The plugin author's test kit: contract checks to run in a plugin's own pytest suite.

Import it as ``gankit.testing`` (``import gankit`` does not import it, and it imports
torch only inside the checks)::

    import gankit.testing as gt
    from gankit import DataSpec

    import gankit_mygan

    def test_plugin_loads():
        gt.check_plugin(gankit_mygan)

    def test_model_contract():
        plugins = gt.check_plugin(gankit_mygan)
        gt.check_model("mygan", plugins=plugins,
                       spec=DataSpec(kind="image", channels=1, size=28),
                       sets={"width": 16})

Every check raises :class:`AssertionError` with a sentence that says what broke and
returns something useful to assert on further. Everything runs on the CPU, in fp32,
on tiny random data, in a temporary folder.

- :func:`check_plugin`: the module loads as a plugin next to gankit's built-ins: its
  hooks validate, registering raises nothing, its names clash neither among themselves
  nor with another installed plugin's (shadowing a built-in name is fine: a note), its
  ``__init__`` does not import torch.
- :func:`check_model`: a model builds, its generator gives samples of the right shape
  and range, one training step runs through the real :class:`gankit.Trainer` (the loop
  ``gankit train`` runs) and changes the generator, and its checkpoint round-trips
  through safetensors: ``gankit.load_model`` (what ``gankit sample`` uses) rebuilds the
  same networks, and the full training state loads back.
- :func:`check_loss`: scalar, finite, differentiable losses for every score shape a
  discriminator may return; a discriminator that is right scores better than one that is
  wrong; the penalty when ``gp_weight > 0``.
- :func:`check_dataset`: the loaded :class:`gankit.Data` has the dtype, layout and
  spec gankit's batcher expects, and loading is deterministic.
- :func:`run_cli`: run ``gankit ARGS...`` in-process with a given plugin manager, to
  test a plugin's commands (or ``train`` with its model) end to end.
- :func:`builtin_plugins`: a fresh plugin manager with gankit's built-ins only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

from .run import Run
from .plugins import get_plugins

__all__ = [
    "builtin_plugins",
    "check_plugin",
    "check_model",
    "check_loss",
    "check_dataset",
    "run_cli",
]

_DEFAULT = object()


def _fail(msg: str):
    raise AssertionError(msg)


def _json_ok(obj, what: str) -> None:
    try:
        json.dumps(obj, default=str)
    except (TypeError, ValueError) as exc:
        _fail(f"{what}.describe() is not JSON-serialisable ({exc}); "
              "`gankit list-* --json` would fail")


# -- plugin managers ---------------------------------------------------------------------


def builtin_plugins(warn=None):
    """A fresh plugin manager holding gankit's built-in plugins only.

    Third-party plugins installed in the environment are left out whatever
    ``GANKIT_LOAD_PLUGINS`` says, so a check sees the plugin under test and the
    built-ins, nothing else.
    """
    from importlib import metadata

    from .plugins import GROUP, Plugins

    eps = [ep for ep in metadata.entry_points(group=GROUP)
           if getattr(ep, "dist", None) is not None and ep.dist.name == "gankit"]
    kw = {"warn": warn} if warn is not None else {}
    p = Plugins(entry_points=eps, **kw)
    p.load_entry_points()
    return p


@contextlib.contextmanager
def _collect_warnings(plugins):
    seen: list[str] = []
    old = plugins.warn
    plugins.warn = seen.append
    try:
        yield seen
    finally:
        plugins.warn = old


def _hook_names() -> set[str]:
    from . import hookspecs

    return {n for n in dir(hookspecs)
            if callable(getattr(hookspecs, n)) and hasattr(getattr(hookspecs, n), "gankit_spec")}


def check_plugin(plugin, name: str | None = None, *, plugins=None, light_import: bool = True):
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions) next to
    gankit's built-ins and check that it loads cleanly. Returns the plugin manager, ready
    for :func:`check_model` and :func:`run_cli`.

    :param name: the plugin's name in that manager (default: the module's name; use the
        entry-point name to match what ``gankit plugins`` shows).
    :param plugins: a manager to add it to (default: :func:`builtin_plugins`).
    :param light_import: also check, in a fresh interpreter, that importing the module
        does not import torch (``gankit --help`` and ``list-models`` must stay fast).
    """
    import click

    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    p = plugins if plugins is not None else builtin_plugins()
    with _collect_warnings(p) as seen:
        rec = p.add_plugin(plugin, name)
        if rec.error:
            _fail(f"plugin '{name}' failed to load: {rec.error}")
        hooks = _hook_names()
        undecorated = sorted(h for h in hooks
                             if callable(getattr(plugin, h, None)) and h not in rec.hooks)
        if undecorated:
            _fail(f"plugin '{name}' defines {', '.join(undecorated)} without @gankit.hookimpl; "
                  "gankit will never call them")
        if not rec.hooks:
            _fail(f"plugin '{name}' implements no gankit hook; decorate its hook functions "
                  "with @gankit.hookimpl")
        p.models(), p.datasets(), p.losses()
        p.call_each("register_commands", cli=click.Group())
        if rec.error:
            _fail(f"plugin '{name}': {rec.error}")
        # a clash among its own names, or with another installed plugin's (one it depends
        # on, added to ``plugins`` first) is a warning: a failure. Shadowing a built-in is
        # not (gankit may add a name any release): a note
        mine = [w for w in seen if f"'{name}'" in w]
        if mine:
            _fail(f"plugin '{name}': {mine[0]}")
        from . import console

        for reg in (p.models(), p.datasets(), p.losses()):
            for note in reg.notes():
                if f"'{name}'" in note:
                    console.info(f"note: {note}")
    if light_import and isinstance(plugin, types.ModuleType):
        _check_light_import(plugin.__name__)
    return p


def _check_light_import(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(','.join(m for m in ('torch', 'torchvision') if m in sys.modules))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] +
                                        [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        _fail(f"`import {module}` fails in a fresh interpreter: {last}")
    heavy = out.stdout.strip()
    if heavy:
        _fail(f"`import {module}` imports {heavy}; import it inside build()/load() instead "
              "so `gankit --help` and `gankit list-models` stay fast "
              "(or pass light_import=False)")


def _ensure_registered(plugins, model) -> None:
    """Make ``model`` findable by name in ``plugins`` (what gankit.load_model needs)."""
    from .hookspecs import hookimpl

    if any(o is model for o in plugins.models()):
        return

    class _Registers:
        @hookimpl
        def register_models(self, register):
            register(model)

    plugins.add_plugin(_Registers(), f"gankit.testing:{model.name}")


# -- models ------------------------------------------------------------------------------


def _check_descriptor(model) -> None:
    from .models import TRANSLATION, UNCONDITIONAL, GANModel

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

    from .datasets import Data

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
    import torch

    from .checkpoints import Checkpoint
    from .config import apply_sets
    from .datasets import DataSpec
    from .losses import Loss
    from .models import TRANSLATION, UNCONDITIONAL
    from .loading import load_model
    from .train import Trainer, TrainOptions, plan

    p = plugins if plugins is not None else builtin_plugins()
    if isinstance(model, str):
        model = p.models().get(model)
    _check_descriptor(model)
    defaults = model.training_defaults()

    domains = None
    if data is not None:
        from .dataload import as_domains  # the data as named domains, as the plan takes them

        domains = as_domains(data)
        if spec is None:
            spec = next(iter(domains.values())).spec
    if config is None:
        config = model.default_config()
    if sets:
        config = apply_sets(config, {k: str(v) for k, v in sets.items()}, what=model.name)
    if spec is None:
        spec = DataSpec(kind="image", channels=3, size=int(defaults.get("image_size") or 32),
                        name="random")
    if conditional:
        if not getattr(model, "can_be_conditional", False):
            _fail(f"{model.name}: conditional=True, but the model does not set "
                  "can_be_conditional = True")
        if domains is not None:
            main = next(iter(domains.values()))
            if not main.labelled:
                _fail("conditional=True needs labelled data (Data.labels and Data.classes)")
            spec = dataclasses.replace(spec, classes=tuple(map(str, main.classes)))
        elif not spec.classes:
            spec = dataclasses.replace(spec, classes=("c0", "c1", "c2"))
    elif spec.classes:
        spec = dataclasses.replace(spec, classes=())
    labels3 = (torch.arange(3) % max(1, len(spec.classes))) if conditional else None
    if loss is _DEFAULT:
        loss = defaults.get("loss")
    if isinstance(loss, str):
        loss = p.losses().get(loss)
    if loss is not None and not isinstance(loss, Loss):
        _fail(f"loss must be a gankit.Loss, a registered name or None, not {type(loss).__name__}")

    model.check(config, spec)

    # -- builds ------------------------------------------------------------------------
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

    # -- forward shapes ------------------------------------------------------------------
    if model.kind == UNCONDITIONAL:
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

    # -- one training run through the real Trainer ----------------------------------------
    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="gankit-check-")))
        _ensure_registered(p, model)
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
        # the same plan as `gankit train` (defaults, the loss's optimizer, checks), with
        # the kit's random data and this config
        run_plan = plan(options, p, config=config, data=data, loss=loss)
        run_dir = run_plan.run.path

        def make_trainer():
            return Trainer.from_plan(dataclasses.replace(run_plan, checkpoint=None))

        trainer = make_trainer()
        before = _params(trainer.nets, model.generator_nets)
        from . import console

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
        sample_png = Run(run_dir).sample_path(steps)
        if not sample_png.exists():
            _fail(f"{model.name}: no sample grid was written ({sample_png})")

        # -- checkpoint round trip -------------------------------------------------------
        path = Run(run_dir).checkpoint_path(steps)
        if not path.exists():
            _fail(f"{model.name}: no checkpoint was written ({path})")
        c = Checkpoint(path)
        if (c.model, c.model_version, c.step) != (model.name, str(model.version), steps):
            _fail(f"{path.name}: metadata says model {c.model!r} version {c.model_version!r} "
                  f"step {c.step}, expected {model.name!r} {model.version!r} {steps}")
        _m, _cfg, _spec, loaded, _c = load_model(path, plugins=p, device="cpu", ema=False)
        reloaded = _params(loaded, model.generator_nets)
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
        again = make_trainer()
        again.resume_from(c)
        full_before, full_after = _params(trainer.nets, trainer.nets), _params(again.nets,
                                                                               again.nets)
        for k, t in full_before.items():
            if not torch.equal(full_after[k], t):
                _fail(f"{model.name}: '{k}' differs after resuming from the checkpoint")
        if again.step != steps:
            _fail(f"{model.name}: resumed at step {again.step}, expected {steps}")
        # -- EMA and augmentation (both come from the trainer) ---------------------------
        augmented = bool(d_calls)
        if model.kind == UNCONDITIONAL:
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
    return {"trainer": trainer, "checkpoint": path, "metrics": metrics, "nets": loaded,
            "augmentation_reaches_d": augmented}


# -- losses ------------------------------------------------------------------------------


def _finite_scalar(v, what: str):
    """``v`` when it is a finite one-element tensor; else the kit's one-line failure."""
    import torch

    if not isinstance(v, torch.Tensor) or v.numel() != 1:
        _fail(f"{what} must return a scalar tensor, got {getattr(v, 'shape', type(v).__name__)}")
    if not torch.isfinite(v).all():
        _fail(f"{what} is not finite")
    return v


def check_loss(loss, *, plugins=None):
    """Check a :class:`gankit.Loss` (or registered loss name); returns the loss."""
    import torch

    from .losses import Loss

    if isinstance(loss, str):
        loss = (plugins if plugins is not None else builtin_plugins()).losses().get(loss)
    cls = type(loss).__name__
    if not isinstance(loss, Loss):
        _fail(f"{cls} is not a gankit.Loss")
    if not loss.name or not isinstance(loss.name, str):
        _fail(f"{cls}.name must be a non-empty string (what users pass to --loss)")
    if not isinstance(loss.n_critic, int) or loss.n_critic < 1:
        _fail(f"{cls}.n_critic must be an int >= 1, got {loss.n_critic!r}")
    if not loss.gp_weight >= 0:
        _fail(f"{cls}.gp_weight must be >= 0, got {loss.gp_weight!r}")
    extra = set(loss.optimizer or {}) - {"lr", "betas"}
    if extra:
        _fail(f"{cls}.optimizer may only set 'lr' and 'betas', not {sorted(extra)}")
    _json_ok(loss.describe(), cls)

    def scalar(v, what):
        return _finite_scalar(v, f"{cls}.{what}")

    g = torch.Generator().manual_seed(0)
    for shape in ((8,), (8, 1), (8, 1, 4, 4)):
        real = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        fake = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        d = scalar(loss.d_loss(real, fake), f"d_loss() on scores of shape {shape}")
        d.backward()
        if real.grad is None or fake.grad is None or not (
                torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()):
            _fail(f"{cls}.d_loss() gives no finite gradient to both the real and fake scores")
        fake2 = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        gl = scalar(loss.g_loss(fake2), f"g_loss() on scores of shape {shape}")
        gl.backward()
        if fake2.grad is None or not torch.isfinite(fake2.grad).all():
            _fail(f"{cls}.g_loss() gives no finite gradient to the fake scores")
    hi, lo = torch.full((8, 1), 2.0), torch.full((8, 1), -2.0)
    with torch.no_grad():
        right, wrong = loss.d_loss(hi, lo), loss.d_loss(lo, hi)
        if not right < wrong:
            _fail(f"{cls}.d_loss(): a discriminator scoring real high and fake low "
                  f"({float(right):.4f}) should have a lower loss than the opposite "
                  f"({float(wrong):.4f}); D outputs raw scores (logits)")
        if not loss.g_loss(hi) <= loss.g_loss(lo):
            _fail(f"{cls}.g_loss(): fooling the discriminator (high scores) should not cost "
                  "more than failing to")
    if loss.gp_weight:
        critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 8),
                                     torch.nn.Tanh(), torch.nn.Linear(8, 1))
        real = torch.randn((4, 3, 4, 4), generator=g)
        fake = torch.randn((4, 3, 4, 4), generator=g)
        pen = scalar(loss.penalty(critic, real, fake), "penalty(critic, real, fake)")
        pen.backward()
        # the input gradient depends on the first layer's weight (not on the last bias)
        first = critic[1].weight.grad
        grads = [q.grad for q in critic.parameters() if q.grad is not None]
        if first is None or not first.abs().sum() > 0:
            _fail(f"{cls}.penalty() must be differentiable w.r.t. the critic's parameters "
                  "(use create_graph=True)")
        if not all(torch.isfinite(q).all() for q in grads):
            _fail(f"{cls}.penalty() gives non-finite gradients to the critic")
    return loss


# -- data sets ---------------------------------------------------------------------------


def check_dataset(dataset, options=None, *, plugins=None, deterministic: bool = True):
    """Load a :class:`gankit.Dataset` (or registered name) and check what it returns.

    :param options: a :class:`gankit.LoadOptions` or a dict of its fields, e.g.
        ``{"path": tmp_path, "image_size": 32, "extra": {...}}``.
    :param deterministic: load twice and require identical samples.

    Returns the :class:`gankit.Data`.
    """
    import torch

    from .datasets import Data, Dataset, LoadOptions

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
        import dataclasses

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


# -- the command line --------------------------------------------------------------------


def run_cli(args, plugins=None, *, input=None):
    """Run ``gankit ARGS...`` in-process with ``plugins`` as the process-wide plugin
    manager (default: :func:`builtin_plugins`). Returns click's ``Result``:
    ``exit_code``, ``stdout``, ``stderr``, ``output``, ``exception``."""
    from click.testing import CliRunner

    from . import console
    from . import plugins as plugins_mod
    from .cli import make_cli

    p = plugins if plugins is not None else builtin_plugins()
    previous = plugins_mod._plugins
    quiet, debug = console.is_quiet(), console.is_debug()
    plugins_mod.set_plugins(p)
    try:
        return CliRunner().invoke(make_cli(p), [str(a) for a in args], input=input)
    finally:
        plugins_mod.set_plugins(previous)
        console.set_quiet(quiet)
        console.set_debug(debug)


# -- added in gankit 0.2: stateful losses, broken plugins, plugin records ----------------

__all__ += ["check_loss_stateful", "assert_broken_plugin_warns", "plugin_info"]


def _new_instance(loss, cls_name: str):
    """A fresh instance of the loss's class (or a call of a factory)."""
    if isinstance(loss, type) or (callable(loss) and not hasattr(loss, "d_loss")):
        return loss()
    try:
        return type(loss)()
    except TypeError as exc:
        _fail(f"{cls_name}() cannot be created without arguments ({exc}); pass a factory: "
              f"check_loss_stateful(lambda: {cls_name}(...))")


def check_loss_stateful(loss, *, plugins=None, steps: int = 2, n_critic: int | None = None,
                        batch: int = 8):
    """Check a loss that may carry state from ``d_loss`` to ``g_loss`` (or across steps),
    calling it as the built-in training step does: ``n_critic`` times
    ``d_loss(real_scores, fake_scores)`` on fresh scores, then ``g_loss(fake_scores,
    real_scores)`` (only the fake scores for one-argument losses), ``steps`` times.

    ``loss`` is a :class:`gankit.Loss` instance (its class must be creatable without
    arguments), a class, a zero-argument factory or a registered name. Checks: every
    output is a finite scalar with finite gradients; no tensor kept on the instance is
    still attached to an autograd graph (``.detach()`` what you keep); a fresh instance
    gives the same outputs for the same scores, also when another instance ran in
    between or interleaved (no state shared through the class or module); two runs are
    identical (no hidden randomness). Returns the list of ``(d_losses, g_loss)`` floats
    per step of the reference run.
    """
    import torch

    from .losses import Loss, call_g_loss

    factory = loss
    if isinstance(loss, str):
        found = (plugins if plugins is not None else builtin_plugins()).losses().get(loss)
        factory = type(found)
    probe = _new_instance(factory, getattr(factory, "__name__", type(factory).__name__))
    cls = type(probe).__name__
    if not isinstance(probe, Loss):
        _fail(f"{cls} is not a gankit.Loss")
    k = int(n_critic or probe.n_critic or 1)

    def scores(seed):
        g = torch.Generator().manual_seed(seed)
        out = []
        for s in range(steps):
            d_steps = [((torch.randn(batch, 1, generator=g) * 2),
                        (torch.randn(batch, 1, generator=g) * 2)) for _ in range(k)]
            g_fake = torch.randn(batch, 1, generator=g) * 2
            out.append((d_steps, g_fake))
        return out

    def value(v, what):
        return _finite_scalar(v, f"{cls}.{what}")

    def kept_graph(inst):
        for name, v in vars(inst).items():
            if isinstance(v, dict):
                v = list(v.values())
            for t in v if isinstance(v, (list, tuple)) else [v]:
                if isinstance(t, torch.Tensor) and (t.requires_grad or t.grad_fn is not None):
                    return name
        return None

    def stepper(inst, seq):
        """A generator running ``seq`` on ``inst`` one training step per next()."""
        for i, (d_steps, g_fake) in enumerate(seq):
            d_vals = []
            for real, fake in d_steps:
                real = real.clone().requires_grad_(True)
                fake = fake.clone().requires_grad_(True)
                d = value(inst.d_loss(real, fake), f"d_loss() in step {i + 1}")
                d.backward()
                if real.grad is None or fake.grad is None or not (
                        torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()):
                    _fail(f"{cls}.d_loss() gives no finite gradient to the scores in step "
                          f"{i + 1}")
                d_vals.append(float(d.detach()))
            fake = g_fake.clone().requires_grad_(True)
            with torch.no_grad():
                last_real = d_steps[-1][0].clone()  # D's scores on a real batch, no graph
            gl = value(call_g_loss(inst, fake, last_real), f"g_loss() in step {i + 1}")
            gl.backward()
            if fake.grad is None or not torch.isfinite(fake.grad).all():
                _fail(f"{cls}.g_loss() gives no finite gradient to the fake scores in step "
                      f"{i + 1}")
            leaked = kept_graph(inst)
            if leaked:
                _fail(f"{cls} keeps '{leaked}' attached to the autograd graph after step "
                      f"{i + 1}; store `.detach()`ed tensors (the graph of every step would "
                      "stay in memory)")
            yield (d_vals, float(gl.detach()))

    ref_seq, other_seq = scores(0), scores(1)
    reference = list(stepper(_new_instance(factory, cls), ref_seq))
    again = list(stepper(_new_instance(factory, cls), ref_seq))
    if again != reference:
        _fail(f"{cls}: two fresh instances give different losses for the same scores "
              f"({reference} vs {again}); is there hidden randomness or state kept in the "
              "class or module?")
    list(stepper(_new_instance(factory, cls), other_seq))  # another run first...
    after_other = list(stepper(_new_instance(factory, cls), ref_seq))
    if after_other != reference:
        _fail(f"{cls}: a fresh instance gives other losses after another instance ran "
              "(state leaks across instances: keep it on `self`, set in __init__, not in a "
              "class attribute or a module global)")
    a, b = _new_instance(factory, cls), _new_instance(factory, cls)
    run_a, run_b = stepper(a, other_seq), stepper(b, ref_seq)
    interleaved = []
    for _ in range(steps):
        next(run_a)
        interleaved.append(next(run_b))
    if interleaved != reference:
        _fail(f"{cls}: two instances used in turn disturb each other's losses (state "
              "shared across instances: keep it on `self`, set in __init__)")
    return reference


class _ImportEntryPoint:
    """An entry point that imports a module by name, as gankit loads installed plugins."""

    def __init__(self, name: str, module: str):
        self.name, self.value, self.dist = name, module, None

    def load(self):
        import importlib

        for key in [m for m in sys.modules if m == self.value or
                    m.startswith(self.value + ".")]:
            del sys.modules[key]  # import it afresh, as a new process would
        return importlib.import_module(self.value)


def assert_broken_plugin_warns(plugin, name: str | None = None):
    """Load a deliberately broken plugin next to gankit's built-ins and check that gankit
    copes as documented: exactly one warning line naming the plugin (no traceback), the
    error recorded for ``gankit plugins``, and the built-in models, losses, data sets and
    commands still working. Returns ``(plugins, warning)``.

    :param plugin: a module name (``"gankit_broken"``: imported as an entry point would
        be, for a plugin that raises at import), or a module or object (for one that fails
        pluggy's validation or raises in a registration hook).
    :param name: the plugin's name (default: the module's name).
    """
    import click

    seen: list[str] = []
    p = builtin_plugins(warn=seen.append)
    if isinstance(plugin, str):
        name = name or plugin
        p._load_entry_point(_ImportEntryPoint(name, plugin), builtin=False)
    else:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        p.add_plugin(plugin, name)
    p.models(), p.datasets(), p.losses()
    p.commands()
    rec = p.records.get(name)
    if rec is None or not rec.error:
        _fail(f"plugin '{name}' loaded without an error; it is not broken")
    mine = [w for w in seen if f"'{name}'" in w]
    if len(mine) != 1:
        _fail(f"plugin '{name}': expected exactly one warning, got {len(mine)}: {mine}")
    warning = mine[0]
    if "\n" in warning or "Traceback" in warning:
        _fail(f"plugin '{name}': the warning must be one line without a traceback: "
              f"{warning!r}")
    for kind, builtin in (("model", "dcgan"), ("loss", "bce"), ("dataset", "sushi")):
        if builtin not in p.registry(kind):
            _fail(f"built-in {kind} '{builtin}' is missing next to the broken plugin '{name}'")
    result = run_cli(["list-models", "--json"], plugins=p)
    if result.exit_code != 0 or '"dcgan"' not in result.stdout:
        _fail(f"`gankit list-models` fails next to the broken plugin '{name}': "
              f"{result.output[-300:]}")
    if run_cli(["--help"], plugins=p).exit_code != 0:
        _fail(f"`gankit --help` fails next to the broken plugin '{name}'")
    return p, warning


def plugin_info(name: str, plugins=None) -> dict:
    """What ``gankit plugins --json`` shows for plugin ``name``: ``name``, ``module``,
    ``distribution``, ``version``, ``builtin``, ``hooks`` (sorted), ``error`` (None when
    it loaded cleanly) and the names it registered: ``models``, ``datasets``, ``losses``,
    ``commands``.

    :param plugins: the manager (e.g. the one :func:`check_plugin` returned); default:
        the process-wide one, as the command line sees it.
    """
    if plugins is None:

        plugins = get_plugins()
    return plugins.info(name)
