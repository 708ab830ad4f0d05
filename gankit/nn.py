"""Network building blocks shared by the built-in models, public for plugins.

The DCGAN family (DCGAN, WGAN-GP and any plugin that wants the same shape) builds a
generator of transposed convolutions and a discriminator of strided convolutions for any
image size ``s = b * 2**k`` with ``3 <= b <= 7`` and ``s >= 28``: the first feature map
is ``b`` pixels wide, and ``k`` layers double it. The size helpers do not import torch,
so a model's ``check()`` can use them while ``gankit --help`` stays fast; the builders
import it when called.
"""

from __future__ import annotations

import functools

from .bounds import check_decay_from
from .errors import GankitError
from .options import Flag

MIN_SIZE = 28
NORMS = ("batch", "layer", "instance", "none")


def size_plan(size: int, bottom: int = 0) -> tuple[int, int]:
    """``(b, k)`` with ``size = b * 2**k``: the first feature map's width and the number
    of 2x layers. Auto picks the largest ``k`` that leaves ``3 <= b <= 7``; ``bottom``
    forces ``b`` (the sushi article's ``bottom_width=12`` for 96 px). Raises ValueError."""
    if size < MIN_SIZE:
        raise ValueError(size)
    if bottom:
        k = 0
        while bottom * 2 ** k < size:
            k += 1
        if bottom * 2 ** k != size or k < 1:
            raise ValueError(size)
        return bottom, k
    b, k = size, 0
    while b % 2 == 0 and b // 2 >= 3:
        b //= 2
        k += 1
    if not 3 <= b <= 7 or k < 1:
        raise ValueError(size)
    return b, k


def supported_sizes(limit: int = 256) -> list[int]:
    """Every image size up to ``limit`` that :func:`size_plan` accepts."""
    out = []
    for s in range(MIN_SIZE, limit + 1):
        try:
            size_plan(s)
            out.append(s)
        except ValueError:
            pass
    return out


def check_conv_size(model: str, size: int, bottom: int = 0) -> None:
    """One clear error naming ``--image-size`` when ``size`` cannot be built."""
    try:
        size_plan(size, bottom)
    except ValueError:
        extra = f" with --set bottom={bottom}" if bottom else ""
        sizes = ", ".join(map(str, supported_sizes(256)))
        raise GankitError(
            f"--image-size {size}: {model} cannot build that size{extra}; supported: "
            f"{sizes}, ... (b*2^k with 3 <= b <= 7, at least {MIN_SIZE})"
        ) from None


def check_positive(config, *names: str) -> None:
    """Refuse ``--set NAME=0`` (or negative) for the given integer options."""
    for k in names:
        if getattr(config, k) < 1:
            raise GankitError(f"--set {k}={getattr(config, k)}: must be at least 1")


def check_range(config, low, high, *names: str) -> None:
    """Refuse ``--set NAME=VALUE`` outside ``low``..``high`` (NaN included) for the given
    options; an option left at ``None`` (a model's "automatic") passes."""
    for k in names:
        value = getattr(config, k)
        if value is not None and not low <= value <= high:
            raise GankitError(f"--set {k}={value}: must be {low} to {high}")


def widths(base: int, k: int, max_mult: int) -> list[int]:
    """Channels from the smallest feature map up, ``k`` entries, capped at base*max_mult."""
    return [base * min(2 ** (k - 1 - i), max_mult) for i in range(k)]


def norm2d(kind: str, channels: int):
    """``batch``, ``layer`` (over C, H, W), ``instance`` (affine) or ``none``."""
    from torch import nn

    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}'; choose one of {', '.join(NORMS)}")


@functools.lru_cache(maxsize=None)
def _minibatch_std_class():
    """The layer's class, made on first use (this module is imported without torch)."""
    import torch
    from torch import nn

    class MinibatchStd(nn.Module):
        def __init__(self, group: int):
            super().__init__()
            self.group = group

        def extra_repr(self) -> str:
            return f"group={self.group}"

        def forward(self, x):
            n, c, h, w = x.shape
            g = min(self.group, n)
            while n % g:  # a last, smaller batch: the largest group size that divides it
                g -= 1
            y = x.float().reshape(g, -1, c, h, w)  # sample i is in group i mod (n / g)
            y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))
            y = y.reshape(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
            return torch.cat([x, y.to(x.dtype)], 1)

    return MinibatchStd


def minibatch_std(group: int):
    """A layer that appends one feature map: the standard deviation of the features over
    groups of ``group`` samples, one number per group (Karras et al. 2018, "Progressive
    Growing of GANs", section 3). A discriminator with it sees a batch's lack of variety,
    which a score per sample cannot; the layer has no weights."""
    return _minibatch_std_class()(group)


def with_minibatch_std(layers: list, channels: int, group: int) -> int:
    """Append a :func:`minibatch_std` layer over groups of ``group`` samples to ``layers``
    when ``group`` > 0; returns the channels the next layer takes (one more with it)."""
    if not group:
        return channels
    layers.append(minibatch_std(group))
    return channels + 1


def init_dcgan_weights(module) -> None:
    """Radford et al.'s init: conv/linear weights N(0, 0.02), norm scales N(1, 0.02)."""
    from torch import nn

    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def dcgan_generator(z_dim: int, channels: int, size: int, ngf: int = 64, max_mult: int = 8,
                    bottom: int = 0):
    """z (N, z_dim) -> images (N, channels, size, size) in [-1, 1]: transposed convs with
    batch norm and ReLU, tanh out."""
    from torch import nn

    b, k = size_plan(size, bottom)
    ch = widths(ngf, k, max_mult)
    layers = [nn.Unflatten(1, (z_dim, 1, 1)),
              nn.ConvTranspose2d(z_dim, ch[0], b, 1, 0, bias=False), nn.BatchNorm2d(ch[0]),
              nn.ReLU(True)]
    for i in range(k - 1):
        layers += [nn.ConvTranspose2d(ch[i], ch[i + 1], 4, 2, 1, bias=False),
                   nn.BatchNorm2d(ch[i + 1]), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
    net = nn.Sequential(*layers)
    init_dcgan_weights(net)
    return net


def dcgan_discriminator(channels: int, size: int, ndf: int = 64, max_mult: int = 8,
                        bottom: int = 0, norm: str = "batch", bias: bool = False,
                        mbstd: int = 0):
    """images -> one raw score per sample (N,): strided convs with LeakyReLU(0.2) and
    ``norm`` after every conv but the first and the last. ``bias`` adds biases to the
    first and last convs (and the middle ones when ``norm`` is ``none``), as WGAN-GP's
    critic has them. ``mbstd`` > 0 puts a :func:`minibatch_std` layer over groups of that
    many samples before the last conv."""
    from torch import nn

    b, k = size_plan(size, bottom)
    ch = list(reversed(widths(ndf, k, max_mult)))
    layers = [nn.Conv2d(channels, ch[0], 4, 2, 1, bias=bias), nn.LeakyReLU(0.2, True)]
    for i in range(k - 1):
        layers += [nn.Conv2d(ch[i], ch[i + 1], 4, 2, 1, bias=bias and norm == "none"),
                   norm2d(norm, ch[i + 1]), nn.LeakyReLU(0.2, True)]
    c = with_minibatch_std(layers, ch[-1], mbstd)
    layers += [nn.Conv2d(c, 1, b, 1, 0, bias=bias), nn.Flatten(0)]
    net = nn.Sequential(*layers)
    init_dcgan_weights(net)
    return net


def mode_seeking_loss(fake, z, labels=None, eps: float = 1e-5):
    """Mao et al. 2019 ("Mode Seeking Generative Adversarial Networks for Diverse Image
    Synthesis"): ``1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps)`` over the pairs of
    a generated batch, so G loses when different noise gives the same picture. On a
    class-conditional batch (``labels`` given) only pairs of the same class count: it is
    the collapse within a class that the term is for. Returns a scalar (0 when the batch
    holds no such pair)."""
    import torch

    n = fake.shape[0]
    f = fake.float().reshape(n, -1)
    zf = z.float().reshape(n, -1)
    df = torch.cdist(f, f, p=1) / f.shape[1]
    dz = torch.cdist(zf, zf, p=1) / zf.shape[1]
    pair = torch.ones(n, n, dtype=torch.bool, device=fake.device).triu(1)
    if labels is not None:
        pair &= labels.reshape(n, 1) == labels.reshape(1, n)
    count = pair.sum()
    ratio = (df * pair).sum() / (dz * pair).sum().clamp_min(1e-8)
    return torch.where(count > 0, 1.0 / (ratio + eps), torch.zeros((), device=fake.device))


def mode_seeking_extra(weight: float, fake, z, labels=None):
    """What a model's ``g_extra_loss`` returns for a mode-seeking term of ``weight``:
    ``(weight * mode_seeking_loss(...), {"loss_ms": ...})``, or ``(None, {})`` at 0."""
    if not weight:
        return None, {}
    term = mode_seeking_loss(fake, z, labels)
    return weight * term, {"loss_ms": term}


def class_embedding(embedding, labels, like):
    """What a class-conditional network feeds on for ``labels``: the rows of
    ``embedding`` (an ``nn.Embedding``, one row per class) for int64 class indices, the
    weighted mix of its rows for float (N, K) class weights (``gankit interpolate
    --class-a/--class-b``, the studio's mixing slider), and for ``labels`` None (a caller
    that knows no classes) sample i of class i mod K, N and the device taken from the
    tensor ``like`` (the noise). Float rows in the embedding's dtype."""
    import torch

    if labels is None:
        labels = torch.arange(like.shape[0], device=like.device) % embedding.num_embeddings
    if labels.is_floating_point():
        return labels.to(embedding.weight.dtype) @ embedding.weight
    return embedding(labels)


#: ``gankit train --decay-from N`` for a model whose learning rates fall linearly to zero
#: at the last step (``train_flags = (gnn.DECAY_FROM,)``, then :func:`linear_decay` in its
#: ``schedulers``); every model that declares it shares the one flag
DECAY_FROM = Flag("--decay-from", "decay_from", int, "Step where linear LR decay to zero starts")


def linear_decay(optimizers: dict, options, default: int | None = None) -> dict:
    """A model's ``schedulers()`` for ``--decay-from N``: each optimizer's learning rate
    constant until step N, then linearly down to zero at the run's last step
    (``options.steps``), as CycleGAN's. Without the flag, ``default`` (a step, or None:
    no schedulers, constant rates). N outside 0..steps is a ``UsageError`` naming the
    flag."""
    import torch

    total = int(options.steps or 1)
    start = (options.extra or {}).get("decay_from")
    start = default if start is None else int(start)
    if start is None:
        return {}
    check_decay_from(start, total)
    span = max(1, total - start)

    def factor(step: int) -> float:  # 1 at step ``start`` itself, also when it is the last
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / span)

    return {k: torch.optim.lr_scheduler.LambdaLR(opt, factor) for k, opt in optimizers.items()}
