"""The divergence guard: non-finite losses or weights restore the last good state."""

from __future__ import annotations

import torch

from .. import console
from ..errors import DivergenceError
from .state import apply_changed_options, cpu_copy

LR_BACKOFF = 0.5  # learning rates are multiplied by this on each retry


class DivergenceGuard:
    """Restores the newest good checkpoint (or the initial state) and lowers every
    learning rate by :data:`LR_BACKOFF`, at most ``max_retries`` times."""

    def __init__(self, trainer):
        self.t = trainer
        self.retries = 0
        self.initial_state = None

    def remember_start(self) -> None:
        """Keep the starting weights when there is no checkpoint to fall back on."""
        if self.initial_state is None and not self.t.run.checkpoints():
            self.initial_state = cpu_copy(self.t.state())

    def params_finite(self):
        flags = [torch.isfinite(p).all() for net in self.t.nets.values()
                 for p in net.parameters()]
        return torch.stack(flags).all() if flags else torch.tensor(True)

    def bad_now(self, sums) -> bool:
        """One host sync: non-finite losses since the last log step, or weights."""
        return bool(sums.non_finite() | ~self.params_finite())

    def recover(self) -> None:
        t = self.t
        self.retries += 1
        if self.retries > t.options.max_retries:
            raise DivergenceError(
                f"training diverged (non-finite loss or weights near step {t.step}) "
                f"{self.retries} times; the last good checkpoint is kept. Try a lower --lr "
                "or --precision fp32"
            )
        bad_step = t.step
        good = t.run.latest_loadable(max_step=bad_step)
        t.load_state(good.state() if good is not None else cpu_copy(self.initial_state))
        if good is not None:  # a checkpoint from before --resume --override: its lr and
            apply_changed_options(t, good.train)  # betas give way to the options again
        factor = LR_BACKOFF ** self.retries
        self.scale_lr(factor)
        console.warn(
            f"non-finite values near step {bad_step}: restored step {t.step} and lowered "
            f"the learning rate to {factor:g}x (retry {self.retries} of {t.options.max_retries})"
        )
        t.run.trim_metrics(t.step)

    def scale_lr(self, factor: float) -> None:
        """Every learning rate at ``factor`` times its value when the guard first acted."""
        for opt in self.t.opts.values():
            for g in opt.param_groups:
                g["lr"] = g.setdefault("initial_lr_gankit", g["lr"]) * factor
        for sch in self.t.scheds.values():  # schedulers recompute lr from base_lrs each step
            if isinstance(getattr(sch, "base_lrs", None), list):
                if not getattr(sch, "initial_base_lrs_gankit", None):
                    sch.initial_base_lrs_gankit = list(sch.base_lrs)  # saved in state_dict()
                sch.base_lrs = [b * factor for b in sch.initial_base_lrs_gankit]
