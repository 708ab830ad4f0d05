"""TensorBoard logging: losses, images/s, sample grids and the config in RUN/tensorboard/.

Off unless asked for, with ``gankit train ... --log tensorboard`` (``trainer.options.log``)
or the environment variable ``GANKIT_LOG=tensorboard`` (a comma list). Then

- every ``--log-every`` steps: the scalars ``loss/d``, ``loss/g`` (any ``loss_*``) and
  ``perf/images_per_s``;
- every sample grid: the image ``samples``;
- at the start: the run's ``config.json`` as the text ``config``; at the end its status.

``tensorboard --logdir runs`` shows every run under ./runs side by side. Needs the
``tensorboard`` package (``pip install "gankit[tensorboard]"``); without it a run that
asks for TensorBoard is refused at the start with one line saying so. Only the main
process writes (under torchrun, the others do nothing).
"""

from __future__ import annotations

import json
import os
import weakref

from gankit import GankitError, hookimpl

__version__ = "1.0.0"
NAME = "tensorboard"
SUBDIR = "tensorboard"
INSTALL = 'pip install "gankit[tensorboard]"'

# one SummaryWriter per trainer (a process may train more than one, e.g. in tests)
_writers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def wanted(trainer) -> bool:
    """True when this run asked for TensorBoard (``--log`` or ``GANKIT_LOG``)."""
    names = {str(n).strip().lower() for n in (getattr(trainer.options, "log", ()) or ())}
    env = os.environ.get("GANKIT_LOG", "")
    names |= {n.strip().lower() for n in env.replace(";", ",").replace(" ", ",").split(",")}
    return NAME in names


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises this when the tensorboard package is missing
        raise GankitError("--log tensorboard needs the tensorboard package, which cannot be "
                          f"imported here: {INSTALL}") from None
    return SummaryWriter


def _writer(trainer):
    return _writers.get(trainer)


def _config_text(trainer) -> str:
    path = trainer.run_dir / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        import dataclasses

        opts = (dataclasses.asdict(trainer.options) if dataclasses.is_dataclass(trainer.options)
                else vars(trainer.options))
        text = json.dumps({"model": trainer.model.name, "options": opts}, indent=2, default=str)
    # TensorBoard renders text as markdown: indent to keep the JSON as a code block
    return "\n".join("    " + line for line in text.splitlines())


@hookimpl
def on_train_start(trainer):
    if not wanted(trainer):
        return
    SummaryWriter = _summary_writer()  # refuses the run, on every process, when missing
    if not trainer.is_main:
        return
    old = _writers.pop(trainer, None)
    if old is not None:
        old.close()
    # on resume, events from an earlier attempt past this step are dropped by TensorBoard
    w = SummaryWriter(log_dir=str(trainer.run_dir / SUBDIR), purge_step=trainer.step or None)
    _writers[trainer] = w
    w.add_text("config", _config_text(trainer), global_step=trainer.step)


@hookimpl
def on_log(trainer, step, metrics):
    w = _writer(trainer)
    if w is None:
        return
    for k, v in metrics.items():
        if k.startswith("loss_"):
            w.add_scalar(f"loss/{k.removeprefix('loss_')}", v, step)
        elif k == "images_per_s":
            w.add_scalar("perf/images_per_s", v, step)


@hookimpl
def on_samples(trainer, step, images):
    w = _writer(trainer)
    if w is None:
        return
    from torchvision.utils import make_grid

    # the same layout as the PNG: a square-ish grid of the fixed-noise samples
    nrow = max(1, int(round(images.shape[0] ** 0.5)))
    grid = make_grid(images, nrow=nrow, padding=2) if images.shape[0] > 1 else images[0]
    w.add_image("samples", grid, step, dataformats="CHW")


@hookimpl
def on_checkpoint(trainer, step):  # noqa: ARG001
    w = _writer(trainer)
    if w is not None:
        w.flush()  # what a checkpoint keeps, TensorBoard shows


@hookimpl
def on_train_end(trainer, status):
    w = _writers.pop(trainer, None)
    if w is None:
        return
    msg = status
    if status == "failed" and trainer.error is not None:
        msg += f": {type(trainer.error).__name__}: {trainer.error}"
    w.add_text("status", msg, global_step=trainer.step)
    w.close()
