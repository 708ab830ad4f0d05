"""Checks of a loss: :func:`check_loss` (scalar, finite, differentiable, the right way
round, the penalty) and :func:`check_loss_stateful` (called in the training step's order,
no graph kept, no state shared across instances, no hidden randomness)."""

from __future__ import annotations

from ..losses import Loss, call_g_loss
from .base import _fail, _json_ok, builtin_plugins


def _finite_scalar(v, what: str):
    """``v`` when it is a finite one-element tensor; else the kit's one-line failure."""
    import torch

    if not isinstance(v, torch.Tensor) or v.numel() != 1:
        _fail(f"{what} must return a scalar tensor, got {getattr(v, 'shape', type(v).__name__)}")
    if not torch.isfinite(v).all():
        _fail(f"{what} is not finite")
    return v


def check_loss(loss, *, plugins=None):
    """Check a :class:`gankit.Loss` (or registered loss name); returns the loss."""
    import torch

    if isinstance(loss, str):
        loss = (plugins if plugins is not None else builtin_plugins()).losses().get(loss)
    cls = type(loss).__name__
    if not isinstance(loss, Loss):
        _fail(f"{cls} is not a gankit.Loss")
    if not loss.name or not isinstance(loss.name, str):
        _fail(f"{cls}.name must be a non-empty string (what users pass to --loss)")
    if not isinstance(loss.n_critic, int) or loss.n_critic < 1:
        _fail(f"{cls}.n_critic must be an int >= 1, got {loss.n_critic!r}")
    if not loss.gp_weight >= 0:
        _fail(f"{cls}.gp_weight must be >= 0, got {loss.gp_weight!r}")
    extra = set(loss.optimizer or {}) - {"lr", "betas"}
    if extra:
        _fail(f"{cls}.optimizer may only set 'lr' and 'betas', not {sorted(extra)}")
    _json_ok(loss.describe(), cls)

    def scalar(v, what):
        return _finite_scalar(v, f"{cls}.{what}")

    g = torch.Generator().manual_seed(0)
    for shape in ((8,), (8, 1), (8, 1, 4, 4)):
        real = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        fake = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        d = scalar(loss.d_loss(real, fake), f"d_loss() on scores of shape {shape}")
        d.backward()
        if real.grad is None or fake.grad is None or not (
                torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()):
            _fail(f"{cls}.d_loss() gives no finite gradient to both the real and fake scores")
        fake2 = (torch.randn(shape, generator=g) * 3).requires_grad_(True)
        gl = scalar(loss.g_loss(fake2), f"g_loss() on scores of shape {shape}")
        gl.backward()
        if fake2.grad is None or not torch.isfinite(fake2.grad).all():
            _fail(f"{cls}.g_loss() gives no finite gradient to the fake scores")
    hi, lo = torch.full((8, 1), 2.0), torch.full((8, 1), -2.0)
    with torch.no_grad():
        right, wrong = loss.d_loss(hi, lo), loss.d_loss(lo, hi)
        if not right < wrong:
            _fail(f"{cls}.d_loss(): a discriminator scoring real high and fake low "
                  f"({float(right):.4f}) should have a lower loss than the opposite "
                  f"({float(wrong):.4f}); D outputs raw scores (logits)")
        if not loss.g_loss(hi) <= loss.g_loss(lo):
            _fail(f"{cls}.g_loss(): fooling the discriminator (high scores) should not cost "
                  "more than failing to")
    if loss.gp_weight:
        critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 8),
                                     torch.nn.Tanh(), torch.nn.Linear(8, 1))
        real = torch.randn((4, 3, 4, 4), generator=g)
        fake = torch.randn((4, 3, 4, 4), generator=g)
        pen = scalar(loss.penalty(critic, real, fake), "penalty(critic, real, fake)")
        pen.backward()
        # the input gradient depends on the first layer's weight (not on the last bias)
        first = critic[1].weight.grad
        grads = [q.grad for q in critic.parameters() if q.grad is not None]
        if first is None or not first.abs().sum() > 0:
            _fail(f"{cls}.penalty() must be differentiable w.r.t. the critic's parameters "
                  "(use create_graph=True)")
        if not all(torch.isfinite(q).all() for q in grads):
            _fail(f"{cls}.penalty() gives non-finite gradients to the critic")
    return loss


def _new_instance(loss, cls_name: str):
    """A fresh instance of the loss's class (or a call of a factory)."""
    if isinstance(loss, type) or (callable(loss) and not hasattr(loss, "d_loss")):
        return loss()
    try:
        return type(loss)()
    except TypeError as exc:
        _fail(f"{cls_name}() cannot be created without arguments ({exc}); pass a factory: "
              f"check_loss_stateful(lambda: {cls_name}(...))")


def check_loss_stateful(loss, *, plugins=None, steps: int = 2, n_critic: int | None = None,
                        batch: int = 8):
    """Check a loss that may carry state from ``d_loss`` to ``g_loss`` (or across steps),
    calling it as the built-in training step does: ``n_critic`` times
    ``d_loss(real_scores, fake_scores)`` on fresh scores, then ``g_loss(fake_scores,
    real_scores)`` (only the fake scores for one-argument losses), ``steps`` times.

    ``loss`` is a :class:`gankit.Loss` instance (its class must be creatable without
    arguments), a class, a zero-argument factory or a registered name. Checks: every
    output is a finite scalar with finite gradients; no tensor kept on the instance is
    still attached to an autograd graph (``.detach()`` what you keep); a fresh instance
    gives the same outputs for the same scores, also when another instance ran in
    between or interleaved (no state shared through the class or module); two runs are
    identical (no hidden randomness). Returns the list of ``(d_losses, g_loss)`` floats
    per step of the reference run.
    """
    factory = loss
    if isinstance(loss, str):
        found = (plugins if plugins is not None else builtin_plugins()).losses().get(loss)
        factory = type(found)
    probe = _new_instance(factory, getattr(factory, "__name__", type(factory).__name__))
    cls = type(probe).__name__
    if not isinstance(probe, Loss):
        _fail(f"{cls} is not a gankit.Loss")
    k = int(n_critic or probe.n_critic or 1)

    ref_seq, other_seq = _scores(0, steps, k, batch), _scores(1, steps, k, batch)
    reference = list(_stepper(_new_instance(factory, cls), ref_seq, cls))
    again = list(_stepper(_new_instance(factory, cls), ref_seq, cls))
    if again != reference:
        _fail(f"{cls}: two fresh instances give different losses for the same scores "
              f"({reference} vs {again}); is there hidden randomness or state kept in the "
              "class or module?")
    list(_stepper(_new_instance(factory, cls), other_seq, cls))  # another run first...
    after_other = list(_stepper(_new_instance(factory, cls), ref_seq, cls))
    if after_other != reference:
        _fail(f"{cls}: a fresh instance gives other losses after another instance ran "
              "(state leaks across instances: keep it on `self`, set in __init__, not in a "
              "class attribute or a module global)")
    a, b = _new_instance(factory, cls), _new_instance(factory, cls)
    run_a, run_b = _stepper(a, other_seq, cls), _stepper(b, ref_seq, cls)
    interleaved = []
    for _ in range(steps):
        next(run_a)
        interleaved.append(next(run_b))
    if interleaved != reference:
        _fail(f"{cls}: two instances used in turn disturb each other's losses (state "
              "shared across instances: keep it on `self`, set in __init__)")
    return reference


def _scores(seed: int, steps: int, k: int, batch: int) -> list:
    """``steps`` training steps of random scores: ``k`` (real, fake) pairs for D, then
    fake scores for G."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for s in range(steps):
        d_steps = [((torch.randn(batch, 1, generator=g) * 2),
                    (torch.randn(batch, 1, generator=g) * 2)) for _ in range(k)]
        g_fake = torch.randn(batch, 1, generator=g) * 2
        out.append((d_steps, g_fake))
    return out


def _kept_graph(inst):
    """The name of a tensor kept on ``inst`` that is still attached to a graph, or None."""
    import torch

    for name, v in vars(inst).items():
        if isinstance(v, dict):
            v = list(v.values())
        for t in v if isinstance(v, (list, tuple)) else [v]:
            if isinstance(t, torch.Tensor) and (t.requires_grad or t.grad_fn is not None):
                return name
    return None


def _stepper(inst, seq, cls: str):
    """A generator running ``seq`` on ``inst`` one training step per next()."""
    import torch

    def value(v, what):
        return _finite_scalar(v, f"{cls}.{what}")

    for i, (d_steps, g_fake) in enumerate(seq):
        d_vals = []
        for real, fake in d_steps:
            real = real.clone().requires_grad_(True)
            fake = fake.clone().requires_grad_(True)
            d = value(inst.d_loss(real, fake), f"d_loss() in step {i + 1}")
            d.backward()
            if real.grad is None or fake.grad is None or not (
                    torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()):
                _fail(f"{cls}.d_loss() gives no finite gradient to the scores in step "
                      f"{i + 1}")
            d_vals.append(float(d.detach()))
        fake = g_fake.clone().requires_grad_(True)
        with torch.no_grad():
            last_real = d_steps[-1][0].clone()  # D's scores on a real batch, no graph
        gl = value(call_g_loss(inst, fake, last_real), f"g_loss() in step {i + 1}")
        gl.backward()
        if fake.grad is None or not torch.isfinite(fake.grad).all():
            _fail(f"{cls}.g_loss() gives no finite gradient to the fake scores in step "
                  f"{i + 1}")
        leaked = _kept_graph(inst)
        if leaked:
            _fail(f"{cls} keeps '{leaked}' attached to the autograd graph after step "
                  f"{i + 1}; store `.detach()`ed tensors (the graph of every step would "
                  "stay in memory)")
        yield (d_vals, float(gl.detach()))
