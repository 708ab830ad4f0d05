"""The names of gankit 0.1.0's training engine, kept for existing imports.

The engine lives in :mod:`gankit.train`: options, plan, loop, batcher, guard, state.
"""

from __future__ import annotations

from .run import trim_jsonl as _trim_metrics  # noqa: F401
from .run import writable_dir  # noqa: F401
from .train.options import TrainOptions  # noqa: F401
from .train.plan import steps_for_epochs  # noqa: F401


def __getattr__(name):
    if name in ("Trainer", "Interrupted", "Batcher", "LR_BACKOFF"):
        import gankit.train as train

        return getattr(train, name)
    if name == "_LossSums":
        from .train.logbook import LossSums

        return LossSums
    if name == "plugin_version":
        from .train.state import plugin_version

        return plugin_version
    raise AttributeError(f"module 'gankit.trainer' has no attribute {name!r}")
