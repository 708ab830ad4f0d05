"""An exponential moving average (EMA) of a generator's weights.

Sampling from a running average of the generator's weights instead of its latest
weights gives steadier, cleaner pictures, most visibly on small data sets. This follows
StyleGAN2-ADA's schedule, expressed as a half-life in images rather than a fixed decay:

``ema_nimg = half_life_kimg * 1000``; with a ramp-up ``ema_nimg = min(ema_nimg,
images_seen * rampup)``; ``beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))``; after
every step ``ema = beta * ema + (1 - beta) * weights``; buffers (batch-norm running
statistics) are copied as they are.

So the average forgets half of its past every ``half_life_kimg`` thousand images, and
early in training (while ``images_seen * rampup`` is smaller) it follows the generator
closely instead of dragging its random initial weights along.

The update runs entirely on the weights' device: ``beta`` is computed on the host from
the step number, never read back from a tensor, so :meth:`EMA.update` does not make the
host wait for the device. ``half_life_kimg=0`` means "no EMA"; callers skip building one.

Example::

    ema = EMA(G, batch_size=64)              # half-life 10 kimg, ramp-up 0.05
    for step in range(steps):
        ...                                  # one optimiser step of G
        ema.update(G, step)
    images = ema.module(z)                   # sample from the average
    tensors = ema.state_dict()               # into a safetensors checkpoint
"""

from __future__ import annotations

import copy

import torch

from .errors import CheckpointError


def _unwrap(net):
    """The plain module behind DistributedDataParallel or torch.compile wrappers."""
    while True:
        if hasattr(net, "_orig_mod"):  # torch.compile's OptimizedModule
            net = net._orig_mod
        elif type(net).__name__ in ("DistributedDataParallel", "DataParallel") and hasattr(net, "module"):
            net = net.module
        else:
            return net


def ema_beta(step: int, batch_size: int, half_life_kimg: float = 10.0,
             rampup: float | None = 0.05) -> float:
    """The EMA decay for the update after training step ``step`` (0-based).

    ``step * batch_size`` images have been seen before that step's batch, as
    StyleGAN2-ADA's ``cur_nimg``: the first update (``step=0``) with a ramp-up has beta 0,
    so the average starts as an exact copy of the trained weights.
    """
    ema_nimg = float(half_life_kimg) * 1000.0
    if rampup:
        ema_nimg = min(ema_nimg, float(step) * float(batch_size) * float(rampup))
    return 0.5 ** (float(batch_size) / max(ema_nimg, 1e-8))


class EMA:
    """An averaged copy of ``net``: ``.module`` is in eval mode with ``requires_grad``
    off, on the same device, in the same dtype and memory format as ``net``.

    ``batch_size`` is the number of images per training step (all processes together
    under torchrun); ``half_life_kimg`` the half-life in thousands of images;
    ``rampup`` limits the half-life to ``rampup`` x the images seen so far (None or 0:
    no ramp-up).
    """

    def __init__(self, net, *, batch_size: int, half_life_kimg: float = 10.0,
                 rampup: float | None = 0.05):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if half_life_kimg <= 0:
            raise ValueError("half_life_kimg must be positive (0 means no EMA: do not build one)")
        if rampup is not None and rampup < 0:
            raise ValueError(f"rampup must be None or non-negative, not {rampup}")
        self.batch_size = int(batch_size)
        self.half_life_kimg = float(half_life_kimg)
        self.rampup = rampup
        src = _unwrap(net)
        # deepcopy clones every tensor with its strides, so channels_last stays channels_last
        self.module = copy.deepcopy(src).eval().requires_grad_(False)
        self._float_params, self._other_params = self._split(self.module.parameters())
        self._buffers = list(self.module.buffers())

    @staticmethod
    def _split(params):
        floats, others = [], []
        for p in params:
            (floats if p.is_floating_point() or p.is_complex() else others).append(p)
        return floats, others

    def beta(self, step: int) -> float:
        """The decay applied by ``update(net, step)`` (see :func:`ema_beta`)."""
        return ema_beta(step, self.batch_size, self.half_life_kimg, self.rampup)

    def update(self, net, step: int) -> None:
        """Move the average towards ``net``'s current weights after training step ``step``.

        One ``_foreach_lerp_`` over the floating-point parameters, buffers copied; no
        value is read back from the device.
        """
        beta = self.beta(step)
        src = _unwrap(net)
        floats, others = self._split(src.parameters())
        buffers = list(src.buffers())
        if (len(floats) != len(self._float_params) or len(others) != len(self._other_params)
                or len(buffers) != len(self._buffers)):
            raise ValueError("EMA.update: the network does not have the structure the EMA was built from")
        with torch.no_grad():
            if floats:
                # ema + (1 - beta) * (w - ema) == beta * ema + (1 - beta) * w
                torch._foreach_lerp_(self._float_params, [p.detach() for p in floats], 1.0 - beta)
            for dst, s in zip(self._other_params, others):
                dst.copy_(s.detach())
            if buffers and hasattr(torch, "_foreach_copy_"):
                torch._foreach_copy_(self._buffers, buffers)
            else:
                for dst, b in zip(self._buffers, buffers):
                    dst.copy_(b)

    def copy_from(self, net) -> None:
        """Make the average an exact copy of ``net``'s weights (beta = 0)."""
        src = _unwrap(net)
        with torch.no_grad():
            for dst, s in zip(self.module.parameters(), src.parameters()):
                dst.copy_(s.detach())
            for dst, s in zip(self.module.buffers(), src.buffers()):
                dst.copy_(s)

    def state_dict(self) -> dict:
        """The averaged weights and buffers as a flat dict of tensors (safetensors-ready)."""
        return {k: v.detach() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the average saved by :meth:`state_dict` (raises CheckpointError when it
        does not fit the network)."""
        try:
            self.module.load_state_dict(dict(state), strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else first[0]
            raise CheckpointError(f"the EMA generator in the checkpoint does not fit this model ({detail})") from None
