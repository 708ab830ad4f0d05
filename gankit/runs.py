"""gankit 0.1.0's names for finding runs and loading trained networks, kept for existing
imports (each use warns); see :mod:`gankit.run` and :mod:`gankit.loading`."""

from __future__ import annotations

from .compat import moved

__getattr__ = moved(__name__, {
    "load_model": "gankit.loading:load_model",
    "check_fits": "gankit.loading:check_fits",
    "DEFAULT_RUNS": "gankit.run:DEFAULT_ROOT",
    "Run": "gankit.run:Run",
    "Path": "pathlib:Path",
    "newest_run": "gankit.legacy:newest_run",
    "open_checkpoint": "gankit.legacy:open_checkpoint",
}, hints={
    "newest_run": "gankit.run.Run.newest(root).path",
    "open_checkpoint": "gankit.run.Run.find_checkpoint(target)",
})
