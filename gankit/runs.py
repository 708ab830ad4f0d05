"""Finding runs and loading trained networks (0.1.0 names; see gankit.run, gankit.loading)."""

from __future__ import annotations

from pathlib import Path

from .loading import check_fits, load_model  # noqa: F401
from .run import DEFAULT_ROOT as DEFAULT_RUNS
from .run import Run


def newest_run(root: Path = DEFAULT_RUNS) -> Path:
    return Run.newest(root).path


def open_checkpoint(target=None):
    """A run folder (newest readable checkpoint), a .safetensors file, or the newest run."""
    return Run.find_checkpoint(target)
