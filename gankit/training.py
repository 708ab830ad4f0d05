"""``prepare``: a plan and its trainer in one call (what 0.1.0 callers use)."""

from __future__ import annotations

from .run import Run
from .train.options import TrainOptions
from .train.plan import DEFAULT_STEPS, check_numbers, load_data, plan  # noqa: F401


def resolve_resume(target: str):
    """A run folder or a checkpoint in one -> (checkpoint, run folder)."""
    run, c = Run.for_resume(target)
    return c, (run.path if run is not None else c.path.parent)


def prepare(options: TrainOptions, *, sets: dict | None = None, explicit=(), resume=None,
            override: bool = False, plugins=None):
    """:func:`gankit.train.plan` then :meth:`gankit.train.Trainer.from_plan`."""
    from .train import Trainer

    return Trainer.from_plan(plan(options, plugins, sets=sets, explicit=explicit,
                                  resume=resume, override=override))
