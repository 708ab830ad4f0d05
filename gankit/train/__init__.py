"""Training: a plan of the run (:func:`plan`), the trainer that runs it, and its parts.

``plan(options, ...)`` turns choices into a validated :class:`Plan` (no flags read, no
networks built); ``Trainer.from_plan(plan)`` builds the networks, resumes and returns a
trainer whose ``fit()`` runs the loop. Importing this package does not import torch;
the trainer's modules do, when first used.
"""

from __future__ import annotations

from ..options import TrainOptions
from .plan import Plan, load_data, plan

__all__ = ["TrainOptions", "Plan", "plan", "load_data", "Trainer", "Interrupted", "Batcher",
           "LR_BACKOFF"]


def __getattr__(name):
    if name in ("Trainer", "Interrupted"):
        from . import loop

        return getattr(loop, name)
    if name == "Batcher":
        from .batcher import Batcher

        return Batcher
    if name == "LR_BACKOFF":
        from .guard import LR_BACKOFF

        return LR_BACKOFF
    raise AttributeError(f"module 'gankit.train' has no attribute {name!r}")
