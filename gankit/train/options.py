"""TrainOptions lives in :mod:`gankit.options` (below the training layer, so that
loading a trained run needs nothing of ``gankit.train``); this name stays for imports."""

from __future__ import annotations

from ..options import TrainOptions

__all__ = ["TrainOptions"]
