"""The plugin contract: every hook gankit calls, with what it passes and when.

A plugin is a module (or object) with functions decorated by :data:`gankit.hookimpl`
whose names are the hook names below. An implementation may accept fewer arguments
than the spec lists (pluggy passes only the ones it names), so specs can grow without
breaking plugins. None of these hooks is ``firstresult``: gankit calls every
implementation, each one inside its own ``try`` so one broken plugin cannot stop the
others.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("gankit")
hookimpl = pluggy.HookimplMarker("gankit")


# -- Registries: called once per process, the first time gankit needs the list. ------


@hookspec
def register_models(register):
    """Register GAN architectures.

    :param register: ``register(model, *, aliases=())`` where ``model`` is a
        :class:`gankit.GANModel` instance; its ``name`` is what users type after
        ``gankit train``. Both unconditional (noise to image) and translation (image to
        image) models are registered here.

    Example::

        @hookimpl
        def register_models(register):
            register(MyGAN(), aliases=("my",))
    """


@hookspec
def register_datasets(register):
    """Register data sets.

    :param register: ``register(dataset, *, aliases=())`` where ``dataset`` is a
        :class:`gankit.Dataset`; users pick it with ``--dataset NAME`` and point it at
        files with ``--data PATH``.
    """


@hookspec
def register_losses(register):
    """Register adversarial losses.

    :param register: ``register(loss, *, aliases=())`` where ``loss`` is a
        :class:`gankit.Loss`; users pick it with ``gankit train MODEL --loss NAME``.
    """


@hookspec
def register_exporters(register):
    """Register ``gankit export`` formats.

    :param register: ``register(exporter, *, aliases=())`` where ``exporter`` is a
        :class:`gankit.Exporter`; users pick it with ``gankit export --format NAME``.
        gankit's own ``onnx``, ``torchscript`` and ``web`` are registered the same way.
    """


@hookspec
def register_metrics(register):
    """Register ``gankit evaluate`` image metrics.

    :param register: ``register(metric, *, aliases=())`` where ``metric`` is a
        :class:`gankit.Metric`; ``gankit evaluate`` computes every registered metric of
        an image run and lists it in its table and eval file. gankit's own (SWD, KID,
        Fréchet distance, precision/recall, FID and KID on Inception features) are
        registered the same way.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``gankit`` command line.

    :param cli: the root :class:`click.Group`; add commands with ``@cli.command()``.
        A command whose name is already taken by gankit is dropped with a warning.
    """


# -- Training lifecycle: observers, called by the trainer. ----------------------------
# An observer that raises is reported once, by plugin name, and not called again in
# that run; training goes on. on_train_start is the exception: raising GankitError there
# refuses the run before anything is written.


@hookspec
def on_train_start(trainer):
    """Called once per process when networks, optimizers and data are ready, before the
    first step (under torchrun: on every process).

    :param trainer: the :class:`gankit.Trainer`; ``trainer.run_dir``, ``trainer.model``,
        ``trainer.config``, ``trainer.nets``, ``trainer.step`` (non-zero on resume).

    Raise :class:`gankit.GankitError` to refuse the run.
    """


@hookspec
def on_step_end(trainer, step, losses):
    """Called after every training step, on every process.

    :param step: the global step just finished, starting at 1.
    :param losses: dict of detached scalar tensors still on the device, e.g.
        ``{"loss_d": ..., "loss_g": ...}``.

    Never call ``.item()``, ``float()`` or ``print`` on these tensors here: that forces
    a device-to-host sync on every step. Use :func:`on_log` for numbers.
    """


@hookspec
def on_log(trainer, step, metrics):
    """Called every ``--log-every`` steps, after ``metrics.jsonl`` got its line (on the
    main process only; under torchrun the losses are averaged over the processes).

    :param step: the global step.
    :param metrics: dict of Python floats: the losses averaged since the previous call,
        ``images_per_s`` and ``wall_time`` (seconds since the process started training,
        as in ``metrics.jsonl``); ``elapsed_s``, the same number under its gankit 0.1
        name, is kept for compatibility.
    """


@hookspec
def on_samples(trainer, step, images, path):
    """Called on the main process after a sample grid from the run's fixed noise was saved.

    :param images: uint8 tensor (N, C, H, W) on the CPU.
    :param path: the PNG file that was written.
    """


@hookspec
def on_checkpoint(trainer, step, path, metadata):
    """Called on the main process after a checkpoint was written and renamed into place.

    :param path: the ``.safetensors`` file; ``gankit.Checkpoint(path)`` parses it.
    :param metadata: the ``str -> str`` metadata stored in it.
    """


@hookspec
def on_train_end(trainer, status):
    """Called once per process when training stops for any reason.

    :param status: ``"completed"``, ``"interrupted"`` (a final checkpoint was saved) or
        ``"failed"`` (the exception is ``trainer.error``).
    """
