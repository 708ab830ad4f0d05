"""Every registered adversarial loss against a hand-computed value; the gradient penalty
against a direct autograd computation; the trainer honouring a loss's declarations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.train import TrainOptions

from kit import prepare

REAL = [2.0, -1.0]
FAKE = [0.0, 1.0]


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


# the textbook forms, written on probabilities D = sigmoid(score), not on logits
EXPECTED = {
    "bce": (
        -mean([math.log(sig(r)) for r in REAL]) - mean([math.log(1 - sig(f)) for f in FAKE]),
        -mean([math.log(sig(f)) for f in FAKE]),
    ),
    "minimax": (
        -mean([math.log(sig(r)) for r in REAL]) - mean([math.log(1 - sig(f)) for f in FAKE]),
        mean([math.log(1 - sig(f)) for f in FAKE]),
    ),
    "hinge": (
        mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE]),
        -mean(FAKE),
    ),
    "lsgan": (
        0.5 * mean([(r - 1) ** 2 for r in REAL]) + 0.5 * mean([f ** 2 for f in FAKE]),
        0.5 * mean([(f - 1) ** 2 for f in FAKE]),
    ),
    # critic: E[D(G(z))] - E[D(x)] = 0.5 - 0.5; generator: -E[D(G(z))] = -0.5
    "wgan-gp": (0.0, -0.5),
}


def test_hand_values_are_what_we_think():
    # spot checks of the table itself: minimax G = mean log(1 - sigmoid) = mean(-log 2, -log(1+e))
    assert EXPECTED["minimax"][1] == pytest.approx(-(math.log(2) + math.log(1 + math.e)) / 2)
    assert EXPECTED["hinge"] == (pytest.approx((0 + 2) / 2 + (1 + 2) / 2), -0.5)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_matches_hand_computed_value(plugins, name):
    loss = plugins.losses().get(name)
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d, g = EXPECTED[name]
    assert loss.d_loss(real, fake).item() == pytest.approx(d, abs=1e-6)
    assert loss.g_loss(fake).item() == pytest.approx(g, abs=1e-6)


def test_wgan_gp_loss_values_and_signs(plugins):
    loss = plugins.losses().get("wgan-gp")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    assert loss.d_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert loss.g_loss(fake).item() == pytest.approx(1.0)


def test_wgan_gp_declarations(plugins):
    loss = plugins.losses().get("wgan-gp")
    assert loss.n_critic == 5 and loss.gp_weight == 10 and loss.batchnorm_ok is False
    assert loss.optimizer["lr"] == 1e-4 and tuple(loss.optimizer["betas"]) == (0.0, 0.9)
    assert loss.plugin == "wgan-gp"
    for other in ("bce", "minimax", "hinge", "lsgan"):
        o = plugins.losses().get(other)
        assert o.n_critic == 1 and not o.gp_weight and o.batchnorm_ok


# -- the gradient penalty ------------------------------------------------------------


def test_penalty_of_a_linear_critic_is_hand_computed(plugins):
    loss = plugins.losses().get("wgan-gp")
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # gradient (3, 4) everywhere: norm 5
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    assert loss.penalty(lambda x: critic(x).squeeze(1), real, fake).item() == pytest.approx(16.0)


def _direct_penalty(critic, real, fake, eps):
    """(||grad||-1)^2 one sample at a time with plain autograd, averaged."""
    terms = []
    for i in range(real.shape[0]):
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x.unsqueeze(0)).sum(), x, create_graph=True)
        terms.append((g.norm() - 1) ** 2)
    return torch.stack(terms).mean()


@pytest.mark.parametrize("shape", [(7, 2), (5, 1, 8, 8)])
def test_penalty_matches_direct_autograd(plugins, shape):
    loss = plugins.losses().get("wgan-gp")
    torch.manual_seed(0)
    if len(shape) == 2:
        critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))
    else:
        critic = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.Tanh(), nn.Flatten(),
                               nn.Linear(64, 1), nn.Flatten(0))
    real, fake = torch.randn(shape), torch.randn(shape)
    torch.manual_seed(123)
    gp = loss.penalty(critic, real, fake)
    after = torch.get_rng_state()
    torch.manual_seed(123)  # eps comes from the global RNG: the same draw again
    eps = torch.rand(shape[0])
    assert torch.equal(after, torch.get_rng_state())
    want = _direct_penalty(critic, real, fake, eps)
    assert gp.item() == pytest.approx(want.item(), rel=1e-5)
    # differentiable in the critic's weights (a second-order graph), like the direct form
    def grads():
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone()
                for p in critic.parameters()]

    gp.backward()
    got = grads()
    critic.zero_grad(set_to_none=True)
    want.backward()
    for a, b in zip(got, grads()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(a.abs().sum() > 0 for a in got)


def test_penalty_is_zero_for_a_unit_slope_critic(plugins):
    loss = plugins.losses().get("wgan-gp")
    critic = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.0, 0.8]]))
    assert loss.penalty(lambda x: critic(x).squeeze(1), torch.randn(4, 3),
                        torch.randn(4, 3)).item() == pytest.approx(0.0, abs=1e-6)


# -- the trainer honours the declarations ----------------------------------------------


def _opts(tmp_path, **kw):
    # grid25 suggests no training options, so the loss's and the model's defaults show
    base = dict(model="vanilla", dataset="grid25", steps=2, batch_size=16, out=str(tmp_path),
                name="r", sample_every=0, checkpoint_every=0, log_every=1, grid=16,
                device="cpu")
    base.update(kw)
    return TrainOptions(**base)


def _adam_steps(opt):
    return {int(s["step"]) for s in opt.state.values()}


def test_trainer_runs_n_critic_steps_with_the_losss_optimizer(tmp_path):
    t = prepare(_opts(tmp_path, loss="wgan-gp"))
    assert t.options.lr == 1e-4 and tuple(t.options.betas) == (0.0, 0.9)
    t.fit()
    assert _adam_steps(t.opts["D"]) == {10} and _adam_steps(t.opts["G"]) == {2}


def test_explicit_lr_beats_the_losss_default(tmp_path):
    t = prepare(_opts(tmp_path, loss="wgan-gp", lr=3e-4), explicit={"lr"})
    assert t.options.lr == 3e-4 and tuple(t.options.betas) == (0.0, 0.9)


def test_one_critic_step_for_bce(tmp_path):
    t = prepare(_opts(tmp_path, loss="bce"))
    assert t.options.lr == 1e-3  # the vanilla model's (textbook) default
    t.fit()
    assert _adam_steps(t.opts["D"]) == {2} and _adam_steps(t.opts["G"]) == {2}


def test_gradient_penalty_changes_the_critic_update(tmp_path, monkeypatch):
    """gp_weight is applied: with the penalty switched off the critic ends elsewhere."""
    from gankit_wgan_gp import WassersteinGP

    a = prepare(_opts(tmp_path, loss="wgan-gp", name="a", steps=1))
    a.fit()
    monkeypatch.setattr(WassersteinGP, "gp_weight", 0.0)
    b = prepare(_opts(tmp_path, loss="wgan-gp", name="b", steps=1))
    b.fit()
    wa, wb = a.nets["D"].state_dict(), b.nets["D"].state_dict()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_dcgan_builds_its_critic_without_batchnorm_for_wgan_gp(plugins):
    from gankit import DataSpec

    model = plugins.models().get("dcgan")
    spec = DataSpec(kind="image", channels=1, size=28, name="x")
    cfg = model.default_config()
    nets = model.build(cfg, spec, plugins.losses().get("wgan-gp"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in nets["D"].modules())
    nets = model.build(cfg, spec, plugins.losses().get("bce"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in nets["D"].modules())
