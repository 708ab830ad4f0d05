"""gankit 0.1.0's functions with no home of their own, served by the 0.1 module names
(:mod:`gankit.training`, :mod:`gankit.runs`, :mod:`gankit.checkpoints`) through
:func:`gankit.compat.moved`. Nothing of gankit imports this module."""

from __future__ import annotations

from .run import DEFAULT_ROOT, Run
from .train import Trainer, plan


def prepare(options, *, sets: dict | None = None, explicit=(), resume=None,
            override: bool = False, plugins=None):
    """:func:`gankit.train.plan` then :meth:`gankit.train.Trainer.from_plan`."""
    return Trainer.from_plan(plan(options, plugins, sets=sets, explicit=explicit,
                                  resume=resume, override=override))


def resolve_resume(target: str):
    """A run folder or a checkpoint in one -> (checkpoint, run folder)."""

    run, c = Run.for_resume(target)
    return c, (run.path if run is not None else c.path.parent)


def newest_run(root=None):
    return Run.newest(DEFAULT_ROOT if root is None else root).path


def open_checkpoint(target=None):
    """A run folder (newest readable checkpoint), a .safetensors file, or the newest run."""
    return Run.find_checkpoint(target)


def checkpoint_path(run_dir, step: int):
    return Run(run_dir).checkpoint_path(step)


def list_checkpoints(run_dir) -> list:
    return Run(run_dir).checkpoints()


def prune(run_dir, keep_last: int, keep=()) -> list:
    """Delete all but the newest ``keep_last`` checkpoints (0 keeps all)."""
    return Run(run_dir).prune(keep_last, keep)


def latest_loadable(run_dir):
    """The newest checkpoint of a run that parses, skipping damaged ones."""
    return Run(run_dir).latest_loadable()


def remove_stale_temps(run_dir) -> list:
    return Run(run_dir).remove_stale_temps()
