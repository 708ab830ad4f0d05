"""Paths through the latent space: lerp and slerp between two points, a chain of
segments through several points, and a straight walk along a direction.

Counting frames (what ``gankit interpolate --steps N`` means)
-------------------------------------------------------------
A *segment* goes from one point to the next and is ``N`` frames long, both ends
included (``t = 0, 1/(N-1), ..., 1``). Consecutive segments share their boundary
frame, which is written once. So for ``K`` points:

* without ``--loop``: ``K - 1`` segments, ``(K - 1) * (N - 1) + 1`` frames; the first
  frame is point 1, the last frame is point K;
* with ``--loop``: ``K`` segments (the last one returns to point 1), and the closing
  frame (point 1 again) is dropped because the GIF starts over with it:
  ``K * (N - 1)`` frames.

Two seeds and ``--steps 50`` give exactly 50 frames, seed A first, seed B last.
Which method suits a run (slerp for Gaussian z, lerp for uniform z) is
:func:`gankit.latent.default_method`. Importing this module does not import torch.
"""

from __future__ import annotations

from .errors import UsageError



def _prepare(a, b, t):
    """Points as rows (1-D ones become one row) and ``t`` shaped to broadcast against them:
    a 1-D ``t`` of N values gives N output rows."""
    import torch

    a, b = (a.unsqueeze(0) if a.dim() == 1 else a), (b.unsqueeze(0) if b.dim() == 1 else b)
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    return a, b, (t.reshape(-1, 1) if t.dim() == 1 else t)


def lerp(a, b, t):
    """Straight line: ``a + t (b - a)``. ``t`` a float or a 1-D tensor (one row per t).
    ``t = 0`` and ``t = 1`` give ``a`` and ``b`` exactly."""
    import torch

    a, b, t = _prepare(a, b, t)
    shape = torch.broadcast_shapes(a.shape, b.shape, t.shape)
    return torch.lerp(a.expand(shape), b.expand(shape), t.expand(shape))


def slerp(a, b, t, eps: float = 1e-7):
    """Spherical interpolation of the direction, linear interpolation of the norm.

    The direction of ``a`` turns into the direction of ``b`` along the great circle
    while the length goes linearly from ``|a|`` to ``|b|``, so every point keeps a
    norm between its endpoints' (a straight line would dip towards the origin, where
    Gaussian latents almost never are). ``t = 0`` gives ``a`` and ``t = 1`` gives ``b``
    exactly. Works on the last dimension, so ``a`` and ``b`` may be batches.
    """
    import torch

    a, b, t = _prepare(a, b, t)
    na = a.norm(dim=-1, keepdim=True)
    nb = b.norm(dim=-1, keepdim=True)
    ua = a / na.clamp_min(eps)
    ub = b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    parallel = so.abs() < 1e-4  # (anti)parallel: the great circle is not unique
    safe = torch.where(parallel, torch.ones_like(so), so)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(parallel, t, torch.sin(t * omega) / safe)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    out = direction * (na + (nb - na) * t)
    out = torch.where(t == 0, a.expand_as(out), out)
    return torch.where(t == 1, b.expand_as(out), out)


METHODS = {"lerp": lerp, "slerp": slerp}


def frame_count(points: int, steps: int, loop: bool) -> int:
    """Frames of a chain of ``points`` with ``steps`` frames per segment (see module doc)."""
    if points < 1 or steps < 2:
        raise ValueError("need at least one point and two steps")
    if points == 1:
        return 1
    return points * (steps - 1) if loop else (points - 1) * (steps - 1) + 1


def chain(points, steps: int, method: str = "slerp", loop: bool = False):
    """Latents for a walk through ``points`` (a (K, D) tensor): ``frame_count`` rows."""
    import torch

    if steps < 2:
        raise UsageError(f"--steps {steps}: must be at least 2 (both ends of a segment)")
    if method not in METHODS:
        raise UsageError(f"--method {method}: choose lerp or slerp")
    k = points.shape[0]
    if k < 2:
        raise UsageError("interpolation needs at least two points (e.g. --seeds 3,17)")
    fn = METHODS[method]
    ends = list(range(k)) + ([0] if loop else [])
    t = torch.linspace(0, 1, steps, dtype=points.dtype)
    t[0], t[-1] = 0.0, 1.0
    rows = []
    for i in range(len(ends) - 1):
        a, b = points[ends[i]:ends[i] + 1], points[ends[i + 1]:ends[i + 1] + 1]
        seg = fn(a, b, t)
        rows.append(seg if i == 0 else seg[1:])
    out = torch.cat(rows)
    if loop:
        out = out[:-1]
    assert out.shape[0] == frame_count(k, steps, loop)
    return out


def walk(z, direction, start: float, stop: float, steps: int, loop: bool = False):
    """Points ``z + s * direction`` for ``s`` from ``start`` to ``stop`` (``steps`` frames,
    both ends included); with ``loop`` it comes back (``2 * (steps - 1)`` frames)."""
    import torch

    if steps < 2:
        raise UsageError(f"--steps {steps}: must be at least 2 (both ends of the walk)")
    s = torch.linspace(float(start), float(stop), steps, dtype=z.dtype)
    if loop:
        s = torch.cat([s, s.flip(0)[1:-1]])
    return z.reshape(1, -1) + s.reshape(-1, 1) * direction.reshape(1, -1).to(z.dtype), s
