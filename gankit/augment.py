"""Differentiable augmentation for GANs on small data sets (DiffAugment and ADA).

A discriminator that sees only a few hundred real images memorises them and stops
teaching the generator. DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training") augments *every* image the discriminator sees, real and
generated, with operations that are differentiable with respect to the image, so the
generator's gradient passes through them. StyleGAN2-ADA (Karras et al. 2020) applies each
operation with a probability ``p`` that it adapts during training from how confident
the discriminator is on real images.

Three policies, as in DiffAugment's reference code (images in [-1, 1]):

``color``        brightness + U(-0.5, 0.5); saturation x U(0, 2) around the per-pixel
                 channel mean; contrast x U(0.5, 1.5) around the per-image mean
``translation``  an integer shift of up to 1/8 of the height and width, zero padding
``cutout``       a zeroed square of half the height and width, centred anywhere so it
                 may hang over the border

Each of the five operations is applied to each sample independently with probability
``p`` (``p=1``: DiffAugment's always-on). ``p`` may be a Python number or a 0-d tensor
on the images' device, so an adaptive ``p`` never makes the host wait for the device.
All random numbers come from one ``torch.rand`` call on the images' device, from the
global RNG or from ``generator`` (so a resumed run draws the same augmentations).

Functional forms with explicit per-sample parameters (:func:`brightness`,
:func:`saturation`, :func:`contrast`, :func:`translate`, :func:`cutout`) and the split
:func:`draw_params` / :func:`apply_params` (to augment two batches identically) are
public too. Outputs keep the input's shape, dtype, device and memory format
(``channels_last`` stays ``channels_last``).

Example::

    aug = Augment("color,translation,cutout", p=0.0, ada_target=0.6)   # ADA
    d_real = D(aug(reals)); d_fake = D(aug(fakes))
    aug.accumulate(d_real)
    if step % aug.ada_interval == 0:
        aug.adjust(batch_size)          # p moves on the device, no host sync
"""

from __future__ import annotations

import torch

from .errors import UsageError

POLICIES = ("color", "translation", "cutout")
_ALIASES = {"colour": "color", "translate": "translation"}

# operations of each policy, in the order they are applied
OPS = {"color": ("brightness", "saturation", "contrast"),
       "translation": ("translation",),
       "cutout": ("cutout",)}

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5

# columns of the one uniform draw: a "do it" column and the operation's own values
_COLUMNS = {"brightness": 2, "saturation": 2, "contrast": 2, "translation": 3, "cutout": 3}


def parse_policy(policy) -> tuple[str, ...]:
    """``"color,translation,cutout"`` (or a list of names) -> the policies in order.
    ``""``, ``"none"`` or None: no augmentation. Unknown names raise UsageError."""
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    out = []
    for raw in names:
        name = str(raw).strip().lower()
        if name in ("", "none"):
            continue
        name = _ALIASES.get(name, name)
        if name not in POLICIES:
            raise UsageError(f"augmentation policy '{raw}' is unknown; choose from "
                             f"{', '.join(POLICIES)} (comma-separated)")
        if name not in out:
            out.append(name)
    return tuple(out)


def _memory_format(x):
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _per_sample(v, x):
    """A per-sample parameter (N,) as (N, 1, 1, 1) in x's dtype."""
    return v.to(dtype=x.dtype).view(-1, 1, 1, 1)


# -- operations with explicit parameters ----------------------------------------------


def brightness(x, offset):
    """``x + offset`` per sample (``offset`` (N,); 0 leaves the image exactly unchanged)."""
    return x + _per_sample(offset, x)


def saturation(x, factor):
    """Scale each pixel's distance from its channel mean by ``factor`` (N,), written
    ``x + (factor - 1) * (x - mean)`` so ``factor=1`` returns ``x`` exactly."""
    mean = x.mean(dim=1, keepdim=True)
    return x + _per_sample(factor - 1, x) * (x - mean)


def contrast(x, factor):
    """Scale each image's distance from its mean over C, H, W by ``factor`` (N,)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return x + _per_sample(factor - 1, x) * (x - mean)


def translate(x, dy, dx):
    """Shift image i by ``dy[i]`` rows down and ``dx[i]`` columns right (integers,
    negative: up/left); uncovered pixels are 0. Two gathers, differentiable."""
    n, c, h, w = x.shape
    dev = x.device
    src_y = torch.arange(h, device=dev).view(1, h) - dy.view(n, 1).to(dev, torch.long)
    src_x = torch.arange(w, device=dev).view(1, w) - dx.view(n, 1).to(dev, torch.long)
    valid = (((src_y >= 0) & (src_y < h)).view(n, 1, h, 1)
             & ((src_x >= 0) & (src_x < w)).view(n, 1, 1, w))
    iy = src_y.clamp(0, h - 1).view(n, 1, h, 1).expand(n, c, h, w)
    ix = src_x.clamp(0, w - 1).view(n, 1, 1, w).expand(n, c, h, w)
    out = x.gather(2, iy).gather(3, ix)
    return out * valid.to(x.dtype)


def cutout(x, top, left, height: int, width: int, apply=None):
    """Zero rows ``[top, top+height)`` x columns ``[left, left+width)`` of each image
    (``top``/``left`` (N,) integers, may lie partly outside the image); ``apply`` (N,)
    bool picks the images that get a hole (default: all)."""
    n, _, h, w = x.shape
    dev = x.device
    rows = torch.arange(h, device=dev).view(1, h)
    cols = torch.arange(w, device=dev).view(1, w)
    top = top.view(n, 1).to(dev, torch.long)
    left = left.view(n, 1).to(dev, torch.long)
    in_y = ((rows >= top) & (rows < top + height)).view(n, 1, h, 1)
    in_x = ((cols >= left) & (cols < left + width)).view(n, 1, 1, w)
    hole = in_y & in_x
    if apply is not None:
        hole = hole & apply.view(n, 1, 1, 1).to(dev)
    return x * (~hole).to(x.dtype)


def translation_range(h: int, w: int) -> tuple[int, int]:
    """The largest shift in rows and columns: 1/8 of the size, rounded."""
    return int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)


def cutout_size(h: int, w: int) -> tuple[int, int]:
    """The hole's height and width: half the size, rounded."""
    return int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)


# -- random parameters ----------------------------------------------------------------


def _randint(u, low: int, high: int):
    """Uniform integers in [low, high) from uniforms u in [0, 1)."""
    return (u * (high - low)).floor().long().clamp_(max=high - low - 1) + low


def draw_params(x, policy="color,translation,cutout", p=1.0, generator=None) -> dict:
    """Random per-sample parameters for :func:`apply_params`, from one ``torch.rand``
    call on x's device. Operations not drawn for a sample get neutral values (offset 0,
    factor 1, shift 0, no hole), so nothing branches on the host."""
    ops = [op for pol in parse_policy(policy) for op in OPS[pol]]
    n, _, h, w = x.shape
    params = {"ops": tuple(ops), "size": (h, w)}
    if not ops or n == 0:
        return params
    ncol = sum(_COLUMNS[op] for op in ops)
    u = torch.rand((n, ncol), generator=generator, device=x.device, dtype=torch.float32)
    if isinstance(p, torch.Tensor):
        p = p.to(x.device, torch.float32)
    col = 0
    for op in ops:
        on = u[:, col] < p
        v = u[:, col + 1:col + _COLUMNS[op]]
        col += _COLUMNS[op]
        if op == "brightness":
            params[op] = torch.where(on, v[:, 0] - 0.5, 0.0)
        elif op == "saturation":
            params[op] = torch.where(on, v[:, 0] * 2.0, 1.0)
        elif op == "contrast":
            params[op] = torch.where(on, v[:, 0] + 0.5, 1.0)
        elif op == "translation":
            sy, sx = translation_range(h, w)
            dy = _randint(v[:, 0], -sy, sy + 1) * on
            dx = _randint(v[:, 1], -sx, sx + 1) * on
            params[op] = torch.stack([dy, dx], dim=1)
        elif op == "cutout":
            ch, cw = cutout_size(h, w)
            # the hole's centre, as DiffAugment: anywhere in [0, size + (1 - hole % 2))
            cy = _randint(v[:, 0], 0, h + (1 - ch % 2))
            cx = _randint(v[:, 1], 0, w + (1 - cw % 2))
            params[op] = torch.stack([cy - ch // 2, cx - cw // 2], dim=1)
            params["cutout_on"] = on
    return params


def apply_params(x, params: dict):
    """Apply the operations of :func:`draw_params` to ``x`` (same shape, dtype, device
    and memory format; differentiable with respect to ``x``)."""
    ops = params.get("ops", ())
    if not ops or x.shape[0] == 0:
        return x
    if tuple(x.shape[2:]) != tuple(params["size"]):
        raise ValueError(f"parameters drawn for size {params['size']}, images are {tuple(x.shape[2:])}")
    fmt = _memory_format(x)
    out = x
    for op in ops:
        if op == "brightness":
            out = brightness(out, params[op])
        elif op == "saturation":
            out = saturation(out, params[op])
        elif op == "contrast":
            out = contrast(out, params[op])
        elif op == "translation":
            out = translate(out, params[op][:, 0], params[op][:, 1])
        elif op == "cutout":
            ch, cw = cutout_size(*params["size"])
            out = cutout(out, params[op][:, 0], params[op][:, 1], ch, cw, params["cutout_on"])
    return out.contiguous(memory_format=fmt)


def augment(x, policy="color,translation,cutout", p=1.0, generator=None):
    """Augment a batch of images ``x`` (N, C, H, W) in [-1, 1]: each operation of
    ``policy`` is applied to each sample with probability ``p`` (a number or a 0-d
    tensor). Differentiable with respect to ``x``; ``p=0`` returns ``x``'s values
    unchanged."""
    if x.dim() != 4:
        raise ValueError(f"augment expects (N, C, H, W) images, got shape {tuple(x.shape)}")
    return apply_params(x, draw_params(x, policy, p, generator))


# -- adaptive probability (ADA) --------------------------------------------------------


class Augment:
    """A policy with its probability ``p`` held as a 0-d float32 tensor.

    With ``ada_target`` (StyleGAN2-ADA uses 0.6), ``p`` adapts: :meth:`accumulate` adds
    ``sign(D(real))`` of each batch on the device, and :meth:`adjust` (every
    ``ada_interval`` steps) computes ``r_t = E[sign(D(real))]`` and moves ``p`` by
    ``sign(r_t - target) * batch_size * interval_steps / (ada_kimg * 1000)``, clamped
    to [0, 1]: ``p`` can go from 0 to 1 in ``ada_kimg`` thousand images. Without
    ``ada_target``, ``p`` stays fixed.
    """

    def __init__(self, policy="color,translation,cutout", p: float = 1.0, *,
                 ada_target: float | None = None, ada_interval: int = 4,
                 ada_kimg: float = 100.0, device=None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be in [0, 1], not {p}")
        if ada_interval < 1:
            raise ValueError(f"ada_interval must be at least 1, not {ada_interval}")
        if ada_kimg <= 0:
            raise ValueError(f"ada_kimg must be positive, not {ada_kimg}")
        self.policy = parse_policy(policy)
        self.ada_target = None if ada_target is None else float(ada_target)
        self.ada_interval = int(ada_interval)
        self.ada_kimg = float(ada_kimg)
        self.p = torch.tensor(float(p), dtype=torch.float32, device=device)
        self._sign_sum = torch.zeros((), dtype=torch.float32, device=device)
        self._count = 0

    @property
    def adaptive(self) -> bool:
        return self.ada_target is not None

    def to(self, device) -> Augment:
        self.p = self.p.to(device)
        self._sign_sum = self._sign_sum.to(device)
        return self

    def _follow(self, device) -> None:
        if self.p.device != torch.device(device):
            self.to(device)

    def __call__(self, x, generator=None):
        self._follow(x.device)
        return augment(x, self.policy, self.p, generator)

    def accumulate(self, real_scores) -> None:
        """Add ``sign(D(real))`` of one batch of raw discriminator scores (no sync)."""
        s = real_scores.detach()
        self._follow(s.device)
        self._sign_sum.add_(s.float().sign().sum())
        self._count += s.numel()

    def adjust(self, batch_size: int, interval_steps: int | None = None, all_reduce=None):
        """Move ``p`` from the signs accumulated since the last call, then reset them.

        ``batch_size`` images per step (all processes), ``interval_steps`` steps since
        the last call (default ``ada_interval``). Under torchrun pass
        ``all_reduce=torch.distributed.all_reduce``: it sums a 2-element tensor (sum of
        signs, count) across processes so every process moves ``p`` the same way. Runs
        on the device without reading a value back; returns ``r_t`` as a 0-d tensor
        (call ``.item()`` only when logging), or None when ``p`` is not adaptive or
        nothing was accumulated.
        """
        if self.ada_target is None or (self._count == 0 and all_reduce is None):
            return None
        steps = self.ada_interval if interval_steps is None else int(interval_steps)
        rate = float(batch_size) * steps / (self.ada_kimg * 1000.0)
        stats = torch.stack([self._sign_sum, self._sign_sum.new_tensor(float(self._count))])
        if all_reduce is not None:
            all_reduce(stats)
        r_t = stats[0] / stats[1].clamp(min=1.0)
        moved = torch.sign(r_t - self.ada_target) * rate * (stats[1] > 0)
        self.p.add_(moved).clamp_(0.0, 1.0)
        self._sign_sum.zero_()
        self._count = 0
        return r_t

    def state_dict(self) -> dict:
        """Tensors only (safetensors-ready): ``p`` and the signs accumulated so far."""
        return {"p": self.p.detach().clone(), "ada_sign_sum": self._sign_sum.detach().clone(),
                "ada_count": torch.tensor(self._count, dtype=torch.int64)}

    def load_state_dict(self, state: dict) -> None:
        self.p.copy_(state["p"])
        self._sign_sum.copy_(state.get("ada_sign_sum", torch.zeros(())))
        count = state.get("ada_count")
        self._count = int(count) if count is not None else 0
