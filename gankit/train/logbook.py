"""Losses summed on the device and read back once per log interval."""

from __future__ import annotations

import time

import torch

from ..engine import all_reduce_sum


class LossSums:
    """Running sums of a model's per-step losses, kept on the device as one vector: one
    stack and one add per step, read back once per log interval."""

    def __init__(self, device):
        self.device = device
        self.keys: tuple = ()
        self.acc = None

    def add(self, losses: dict) -> None:
        if not losses:
            return
        vals = losses.values()
        if tuple(losses) != self.keys:  # first step, or the model returned other losses
            new = tuple(k for k in losses if k not in self.keys)
            if new:
                extra = torch.zeros(len(new), device=self.device)
                self.acc = extra if self.acc is None else torch.cat([self.acc, extra])
                self.keys += new
            zero = torch.zeros((), device=self.device)
            vals = [losses.get(k, zero) for k in self.keys]
        self.acc.add_(torch.stack([v.detach().float().reshape(()) for v in vals]))

    def values(self):
        return self.acc if self.acc is not None else torch.zeros(0, device=self.device)

    def non_finite(self):
        """A 0-d bool tensor: any loss since the last reset was NaN or infinite."""
        return ~torch.isfinite(self.values()).all()


class Logbook:
    """What happened since the last log step: loss sums, step and image counts, time.

    :meth:`read` packs the sums with the flags the loop needs (non-finite values, a stop
    request) into one tensor, averages it across torchrun processes, and reads it back:
    the one host sync of a log interval.
    """

    def __init__(self, device, world_size: int = 1):
        self.device, self.world_size = device, world_size
        self.started = time.time()
        self.reset()

    def reset(self) -> None:
        self.sums = LossSums(self.device)
        self.steps = 0
        self.t0 = time.perf_counter()

    def add(self, losses: dict) -> None:
        self.sums.add(losses)
        self.steps += 1

    def read(self, params_finite, stop: bool):
        """-> (mean losses by name, non-finite seen, some process asked to stop)."""
        bad = self.sums.non_finite() | ~params_finite
        flags = torch.stack([bad.float(), torch.tensor(float(stop), device=self.device)])
        packed = torch.cat([self.sums.values(), flags])
        if self.world_size > 1:
            packed = all_reduce_sum(packed)
            packed[:-2] /= self.world_size
        *vals, bad_any, stop_any = packed.tolist()
        means = {k: v / max(self.steps, 1) for k, v in zip(self.sums.keys, vals)}
        return means, bool(bad_any), bool(stop_any)

    def record(self, step: int, means: dict, batch_size: int) -> dict:
        """The metrics.jsonl line for ``step`` (and the rate since the last one)."""
        now = time.perf_counter()
        ips = self.steps * batch_size / max(now - self.t0, 1e-9)
        return {"step": step, **{k: round(v, 6) for k, v in means.items()},
                "images_per_s": round(ips, 2), "wall_time": round(time.time() - self.started, 3)}
