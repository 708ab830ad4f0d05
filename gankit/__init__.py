"""gankit: a plugin-based toolkit for training and playing with GANs.

This module is the public API for plugin authors; everything else in ``gankit`` is
private and may change between releases. See docs/plugins.md.
"""

__version__ = "0.1.0"

from . import console
from .checkpoints import Checkpoint
from .datasets import Data, Dataset, DataSpec, LoadOptions
from .errors import CheckpointError, GankitError, UnknownNameError, UsageError
from .extensions import Exporter, ExportOptions, Metric
from .files import atomic_write
from .hookspecs import hookimpl
from .loading import load_model, load_run
from .logfiles import StepLog, append_line, trim_lines
from .lookup import get_dataset, get_loss, get_model
from .losses import Loss, call_g_loss
from .models import TRANSLATION, UNCONDITIONAL, Flag, GANModel, RunState, UnconditionalGAN
from .run import Run
from .train import TrainOptions, load_data

__all__ = [
    "__version__",
    "hookimpl",
    "GANModel",
    "UnconditionalGAN",
    "UNCONDITIONAL",
    "TRANSLATION",
    "RunState",
    "Flag",
    "Loss",
    "call_g_loss",
    "Dataset",
    "Data",
    "DataSpec",
    "LoadOptions",
    "Trainer",
    "TrainOptions",
    "Checkpoint",
    "load_model",
    "load_run",
    "Run",
    "load_data",
    "get_model",
    "get_loss",
    "get_dataset",
    "Exporter",
    "ExportOptions",
    "Metric",
    "StepLog",
    "append_line",
    "trim_lines",
    "atomic_write",
    "console",
    "GankitError",
    "UsageError",
    "UnknownNameError",
    "CheckpointError",
    "pretrained",
]


def __getattr__(name):
    # the trainer and the pretrained network import torch: load them when first asked
    # for, not with `import gankit`
    if name == "pretrained":
        import importlib

        return importlib.import_module(".pretrained", __name__)
    if name == "Trainer":
        from .train.loop import Trainer

        return Trainer
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
