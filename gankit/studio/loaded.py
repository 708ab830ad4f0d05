"""What the studio's worker keeps: a loaded run and the latents of a walk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import RunEntry


@dataclass
class Loaded:
    entry: RunEntry
    model: object
    config: object
    spec: object
    nets: dict
    checkpoint: object  # gankit.Checkpoint

    @property
    def run_dir(self) -> Path | None:
        return self.entry.run_dir


@dataclass
class Walk:
    """Latents of an animation, computed once and drawn batch by batch."""
    loaded: Loaded
    z: object
    seeds: list
    method: str
    frames_per_segment: int
    loop: bool
    truncation: float | None
    specs: list
    #: the frames' classes on a class-conditional run (the picked class, else the first)
    labels: object = None

    @property
    def count(self) -> int:
        return int(self.z.shape[0])
