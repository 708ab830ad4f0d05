"""gankit 0.1.0's training engine names, kept for existing imports (each use warns).

The engine lives in :mod:`gankit.train`: options, plan, loop, batcher, guard, state.
"""

from __future__ import annotations

from .compat import moved

__getattr__ = moved(__name__, {
    "TrainOptions": "gankit.train:TrainOptions",
    "steps_for_epochs": "gankit.train.plan:steps_for_epochs",
    "writable_dir": "gankit.run:writable_dir",
    "_trim_metrics": "gankit.run:trim_jsonl",
    "Trainer": "gankit.train.loop:Trainer",
    "Interrupted": "gankit.train.loop:Interrupted",
    "Batcher": "gankit.train.batcher:Batcher",
    "LR_BACKOFF": "gankit.train.guard:LR_BACKOFF",
    "_LossSums": "gankit.train.logbook:LossSums",
    "plugin_version": "gankit.train.state:plugin_version",
})
