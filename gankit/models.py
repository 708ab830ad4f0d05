"""The model contract.

A :class:`GANModel` is a light descriptor registered by a plugin: a name, a kind, a
one-line summary, a ``Config`` dataclass of architecture options (set with
``--set KEY=VALUE``), training defaults, and factories for its networks and optimizers.
The model owns its training step; the trainer owns devices, precision, progress,
checkpoints and hooks. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .config import describe as describe_config
from .dataload import dataset_name, load_data
from .engine import make_adam
from .errors import GankitError
from .images import grid_shape, to_uint8
from .losses import call_g_loss, wants_real_scores
from .options import Flag  # noqa: F401 - defined with the options it fills; gankit.models.Flag
from .plots import scatter_image

UNCONDITIONAL = "unconditional"
TRANSLATION = "translation"


@dataclasses.dataclass
class EmptyConfig:
    pass


class RunState:
    """Per-run state a model keeps while it trains (image pools, its own random
    generators...), created by :meth:`GANModel.setup` for one trainer, so two trainers
    of the same registered model never share it. Its :meth:`state_dict` is saved with the
    checkpoint beside :meth:`GANModel.extra_state` and given back on resume."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def check_state(self, state: dict) -> None:
        """Before a resume loads anything: refuse (``GankitError``/``ValueError`` with a
        one-line reason) a saved state that cannot fit, given with a
        ``gankit.checkpoints.TensorInfo`` (name, shape, dtype) in each tensor's place."""


class GANModel:
    """Base class of every registered model.

    Subclasses set the class attributes and implement :meth:`build` and
    :meth:`train_step`; unconditional models usually derive from
    :class:`UnconditionalGAN`, which provides a step driven by a :class:`gankit.Loss`.

    ``translation`` models implement ``translate(nets, x, direction)`` (images in
    [-1, 1], ``direction`` "a2b" or "b2a") for ``gankit translate``, and may say with
    ``size_multiple(config, spec)`` what input sides their generators accept (default 4).
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = UNCONDITIONAL
    summary: ClassVar[str] = ""
    #: bump when the networks' tensors change so old checkpoints are recognised
    version: ClassVar[str] = "1"
    Config: ClassVar[type] = EmptyConfig
    #: training defaults; ``gankit train`` flags override them
    defaults: ClassVar[dict] = {
        "image_size": 64,
        "batch_size": 64,
        "lr": 2e-4,
        "betas": (0.5, 0.999),
        "loss": None,
        "dataset": "sushi",
    }
    #: names of the networks that sampling needs (the rest is only for training)
    generator_nets: ClassVar[tuple[str, ...]] = ("G",)
    #: the kinds of data (``DataSpec.kind``) the networks accept, checked before building
    data_kinds: ClassVar[tuple[str, ...]] = ("image", "vector")
    #: whether ``gankit train MODEL --conditional`` may train it class-conditional: its
    #: ``build()`` then sees ``spec.num_classes`` (> 0) and its generator takes labels
    can_be_conditional: ClassVar[bool] = False
    #: ``gankit train`` flags of this model's own (:class:`Flag`), read from options.extra
    train_flags: ClassVar[tuple] = ()
    #: translation models: the directions ``translate`` accepts, "a2b" (the first domain
    #: to the second) and "b2a" (back); `gankit export` and the studio offer only these
    directions: ClassVar = ("a2b", "b2a")
    #: run image networks in channels-last memory format (faster for plain conv stacks
    #: on oneDNN and cuDNN; set False where benchmarks/train_throughput.py shows it slower)
    channels_last: ClassVar[bool] = True

    # -- configuration ----------------------------------------------------------
    def default_config(self):
        return self.Config()

    def training_defaults(self) -> dict:
        merged = dict(GANModel.defaults)
        merged.update(self.defaults)
        return merged

    def check(self, config, spec) -> None:
        """Raise :class:`GankitError` when ``config`` cannot be built for ``spec``."""

    # -- construction -------------------------------------------------------------
    def build(self, config, spec, loss=None) -> dict:
        """Return a dict name -> ``torch.nn.Module`` (e.g. ``{"G": ..., "D": ...}``)."""
        raise NotImplementedError

    def optimizers(self, config, nets: dict, options) -> dict:
        """Return a dict name -> optimizer; default: one Adam per network.

        ``options`` is the :class:`gankit.TrainOptions` of the run (``lr``, ``betas``,
        ``fused``).
        """
        return {k: make_adam(net.parameters(), options) for k, net in nets.items()}

    def schedulers(self, config, optimizers: dict, options) -> dict:
        """Return a dict name -> LR scheduler (stepped once per training step)."""
        return {}

    # -- training -----------------------------------------------------------------
    def train_step(self, t) -> dict:
        """One training step; return detached scalar loss tensors (no ``.item()``).

        ``t`` is the :class:`gankit.Trainer`: ``t.nets``, ``t.next_batch()``,
        ``t.latent(n)``, ``t.autocast()``, ``t.backward_step(name, loss)``.
        """
        raise NotImplementedError

    def extra_state(self) -> dict:
        """Extra training state to checkpoint: nested dicts/lists of tensors and JSON."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def check_state(self, state: dict) -> None:
        """Before a resume loads anything: refuse (``GankitError``/``ValueError`` with a
        one-line reason) an ``extra_state`` that cannot fit this run, given with a
        ``gankit.checkpoints.TensorInfo`` (name, shape, dtype) in each tensor's place."""

    # -- the parts of a run a model may take over (each has a default) -------------------
    def load_data(self, plugins, options, progress=None):
        """The run's data: one ``Data``, a ``(data, data_b)`` pair, or ``{domain: Data}``
        (the first is the main data; ``trainer.next_batch(domain)`` draws from the others).
        Default: the ``--dataset``/``--data`` the options name, at ``--image-size`` or the
        data set's own size."""
        if options.image_size is None:
            ds = plugins.datasets().get(self.dataset_for(options))
            options.image_size = ds.default_size or self.training_defaults().get("image_size", 64)
        return load_data(plugins, self, options, path=options.data, name=options.dataset,
                         progress=progress)

    def check_data(self, config, data: dict) -> None:
        """Called by ``gankit train`` once the data are loaded (``data``: ``{domain:
        Data}``, the main data first) and before the run folder is created: raise
        :class:`GankitError` when ``config`` does not fit them (too few samples, a label
        count...). ``check(config, spec)`` runs before it, on the main data's spec."""

    def dataset_for(self, options) -> str:
        """The data set ``options`` mean: ``--dataset``, else ``imagefolder`` for
        ``--data``, else the model's ``defaults["dataset"]``, else sushi."""
        return dataset_name(self, options.dataset, options.data)

    def setup(self, trainer) -> RunState | None:
        """Called once per trainer after its networks are built: return the per-run state
        (a :class:`RunState`, kept as ``trainer.run_state``) or None."""
        return None

    def preview_inputs(self, config, n: int, generator):
        """The fixed inputs of the progress grid (noise for unconditional models), drawn
        once per run with ``generator`` and kept in the checkpoint; None if the model
        makes its previews otherwise."""
        try:
            return self.latent(config, n, generator=generator)
        except NotImplementedError:
            return None

    def preview(self, trainer):
        """``(uint8 NCHW images, columns)`` for the progress grid, or None for none.
        Default: the generator on the run's fixed noise (a scatter plot for 2-D data)."""
        import torch

        if trainer.fixed_noise is None:
            return None
        for n in trainer.nets.values():
            n.eval()
        nets = trainer.eval_nets  # the EMA generator where the run keeps one
        for n in nets.values():
            n.eval()
        z = trainer.fixed_noise.to(trainer.device)
        labels = preview_labels(trainer.spec, z.shape[0], trainer.device)
        with torch.no_grad(), trainer.autocast():
            out = (self.generate(nets, z) if labels is None
                   else self.generate(nets, z, labels))
        if trainer.spec.kind == "vector":
            return scatter_image(out.float().cpu(), trainer.data.samples,
                                 (trainer.data.meta or {}).get("centers")), 1
        return to_uint8(out), grid_shape(out.shape[0])[0]

    # -- inference --------------------------------------------------------------------------
    def latent(self, config, n: int, device="cpu", generator=None):
        """Latent codes for ``n`` samples (unconditional models)."""
        raise NotImplementedError(f"model '{self.name}' does not sample from noise")

    def generate(self, nets: dict, z, labels=None):
        """Samples in [-1, 1] for latent codes ``z`` (unconditional models), of the classes
        ``labels`` (int64, one per code) for a class-conditional model."""
        raise NotImplementedError(f"model '{self.name}' does not sample from noise")

    def translate(self, nets, x, direction: str = "a2b"):
        """Images in [-1, 1] translated ``a2b`` or ``b2a`` (translation models)."""
        raise GankitError(f"model '{self.name}' does not translate images")

    def size_multiple(self, config, spec) -> int:
        """Translation inputs are padded to a multiple of this side."""
        return 4

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "summary": self.summary,
            "version": self.version,
            "conditional": bool(self.can_be_conditional),
            "plugin": getattr(self, "plugin", None),
            "defaults": {k: v for k, v in self.training_defaults().items()},
            "options": self._options(),
        }

    def _options(self) -> list[dict]:
        """The Config's fields, each default as a new run gets it (``default_config()``
        may differ from the dataclass's, which is what a stored config lacking the field
        means)."""
        fresh = self.default_config()
        out = describe_config(self.Config)
        if dataclasses.is_dataclass(fresh):
            for o in out:
                o["default"] = getattr(fresh, o["name"], o["default"])
        return out


class UnconditionalGAN(GANModel):
    """Noise to image (or vector). Networks ``G`` (z -> sample) and ``D`` (sample -> score).

    The step follows the loss's declarations: ``n_critic`` discriminator updates, each
    on a fresh real batch, with the gradient penalty when ``gp_weight > 0``; then one
    generator update. With one critic step the generated batch is reused for the
    generator update, as in the reference DCGAN loop.
    """

    kind = UNCONDITIONAL
    #: "gaussian" (N(0, 1)) or "uniform" (U[-1, 1]) noise
    prior: ClassVar[str] = "gaussian"

    def z_dim(self, config) -> int:
        return int(getattr(config, "z_dim", 100))

    def latent(self, config, n: int, device="cpu", generator=None):
        import torch

        shape = (n, self.z_dim(config))
        if self.prior == "uniform":
            return torch.rand(shape, device=device, generator=generator) * 2 - 1
        return torch.randn(shape, device=device, generator=generator)

    def generate(self, nets: dict, z, labels=None):
        """Samples in [-1, 1] for latent codes ``z``; a class-conditional generator also
        takes ``labels`` (int64 class indices, one per code)."""
        return nets["G"](z) if labels is None else nets["G"](z, labels)

    # -- the built-in step, and its hooks for extra loss terms of D and of G -----------
    def d_real_kwargs(self, t) -> dict:
        """Keyword arguments for D's call on the real batch in the built-in step
        (``t.discriminate(real, real=True, **kwargs)``), asked once per D update after
        the real batch and its noise are drawn and before the generated batch is made, so
        a random choice made here keeps its place in the run's random stream. Default:
        none."""
        return {}

    def d_extra_loss(self, t, real_out, real):
        """An extra term of D's loss in the built-in step, from what D returned for the
        real batch (``real_out``, called with :meth:`d_real_kwargs`; its scores are the
        tensor itself, a tuple's first element or a dict's ``"logits"`` entry) and the
        real batch ``real``; runs under ``t.autocast()``. Returns ``(term, metrics)``: a
        scalar tensor added to D's loss (None for none) and ``{name: scalar tensor}`` to
        report with the step's losses. Default: ``(None, {})``."""
        return None, {}

    def g_extra_loss(self, t, fake, z, labels):
        """An extra term of G's loss in the built-in step, from the generated batch
        ``fake`` G made from the noise ``z`` (and the class ``labels`` on a conditional
        run, else None); runs under ``t.autocast()``. Returns ``(term, metrics)`` as
        :meth:`d_extra_loss` does. Default: ``(None, {})``.

        A model whose :meth:`d_fake_kwargs` returns any keyword arguments gets one more,
        ``fake_out``: what D returned for ``fake`` in that call."""
        return None, {}

    def d_fake_kwargs(self, t) -> dict:
        """Keyword arguments for D's call on the generated batch in G's update (the call
        whose scores G's adversarial loss uses), so a term of G's loss can use D's other
        outputs for the same batch, seen through the same augmentation, without a second
        call. A model that returns any gets that call's output as ``fake_out=`` in
        :meth:`g_extra_loss`. Default: none."""
        return {}

    def train_step(self, t) -> dict:
        """One step; on a class-conditional run (``t.spec.num_classes > 0``) G makes images
        of the real batch's classes and D is called with ``y=labels``."""
        import torch

        loss = t.loss
        G, D = t.nets["G"], t.nets["D"]
        n_critic = max(1, int(loss.n_critic))
        cond = t.spec.num_classes > 0
        kw, y = {}, None
        fake = None
        t.requires_grad("D", True)
        for _ in range(n_critic):
            if cond:  # the fakes take the real batch's classes: D compares like with like
                real, y = t.next_labelled_batch()
                kw = {"y": y}
            else:
                real = t.next_batch()
            z = t.latent(real.shape[0])
            d_kwargs = self.d_real_kwargs(t)
            with t.autocast():
                if n_critic == 1:
                    fake = G(z, y) if cond else G(z)
                    fake_in = fake.detach()
                else:
                    with torch.no_grad():
                        fake_in = G(z, y) if cond else G(z)
                # D sees real and generated images through the run's augmentation
                real_out = t.discriminate(real, real=True, **kw, **d_kwargs)
                extra, extra_metrics = self.d_extra_loss(t, real_out, real)
                loss_d = loss.d_loss(scores_of(real_out), t.discriminate(fake_in, **kw))
            if loss.gp_weight:
                # the penalty runs in full precision: its second-order graph is sensitive
                critic = D if not cond else (lambda x, D=D, y=y: D(x, y=y))
                gp = loss.penalty(critic, real, fake_in.float())
                loss_d = loss_d + loss.gp_weight * gp
            t.backward_step("D", loss_d if extra is None else loss_d + extra)
        t.requires_grad("D", False)
        with t.autocast():
            if fake is None:
                z = t.latent(real.shape[0] if cond else t.batch_size)
                fake = G(z, y) if cond else G(z)
            real_scores = None
            if wants_real_scores(loss):  # relativistic losses: the updated D on real images
                with torch.no_grad():
                    real_scores = t.discriminate(real, **kw)
            g_kwargs = self.d_fake_kwargs(t)
            fake_out = t.discriminate(fake, **kw, **g_kwargs)
            loss_g = call_g_loss(loss, scores_of(fake_out), real_scores)
            # fake_out only for a model that asked (older g_extra_loss take four arguments)
            more = {"fake_out": fake_out} if g_kwargs else {}
            g_extra, g_metrics = self.g_extra_loss(t, fake, z, y, **more)
        t.backward_step("G", loss_g if g_extra is None else loss_g + g_extra)
        t.requires_grad("D", True)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                **{k: v.detach() for k, v in {**extra_metrics, **g_metrics}.items()}}


def scores_of(out):
    """The scores in a discriminator's output: the tensor itself, the first element of
    a tuple or list, or the ``"logits"`` entry of a dict."""
    if isinstance(out, dict):
        return out["logits"]
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def preview_labels(spec, n: int, device="cpu"):
    """The classes of a conditional run's preview grid: one class per row, in order
    (None for an unconditional run)."""
    if not getattr(spec, "num_classes", 0):
        return None
    import torch  # torch: only when a conditional model previews

    cols = grid_shape(n)[0]
    return ((torch.arange(n) // cols) % spec.num_classes).to(device)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def require_kind(model: GANModel, kind: str, command: str, suggestion: str) -> None:
    """One clear error when a command gets a model of the wrong kind."""
    if model.kind != kind:
        raise GankitError(
            f"'{model.name}' is {_article(model.kind)} {model.kind} model; `gankit {command}` "
            f"needs {_article(kind)} {kind} one: "
            f"{suggestion}"
        )
