"""Relativistic losses against the paper's formulas computed element by element, and the
optional real scores of ``g_loss`` (old one-argument losses keep working)."""

from __future__ import annotations

import math

import pytest
import torch

import gankit
import gankit.testing as gt
from gankit import Loss, call_g_loss

REAL = [2.0, -1.0, 0.5]
FAKE = [0.0, 1.0, -0.5]


def log_sig(x):
    return -math.log1p(math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


def direct(name):
    """(d_loss, g_loss) of Jolicoeur-Martineau (2018), one sample at a time."""
    r, f = REAL, FAKE
    mr, mf = mean(r), mean(f)
    if name == "rsgan":  # pairs (x_r, x_f)
        d = mean([-log_sig(a - b) for a, b in zip(r, f)])
        g = mean([-log_sig(b - a) for a, b in zip(r, f)])
    elif name == "ragan":
        d = (mean([-log_sig(a - mf) for a in r])
             + mean([-math.log(1 - math.exp(log_sig(b - mr))) for b in f]))
        g = (mean([-log_sig(b - mr) for b in f])
             + mean([-math.log(1 - math.exp(log_sig(a - mf))) for a in r]))
    else:  # ralsgan
        d = mean([(a - mf - 1) ** 2 for a in r]) + mean([(b - mr + 1) ** 2 for b in f])
        g = mean([(b - mr - 1) ** 2 for b in f]) + mean([(a - mf + 1) ** 2 for a in r])
    return d, g


@pytest.mark.parametrize("name", ["rsgan", "ragan", "ralsgan"])
def test_relativistic_formulas(plugins, name):
    loss = plugins.losses().get(name)
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d, g = direct(name)
    assert loss.d_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(fake, real).item() == pytest.approx(g, rel=1e-6)
    assert call_g_loss(loss, fake, real).item() == pytest.approx(g, rel=1e-6)
    assert loss.generator_loss(fake, real).item() == pytest.approx(g, rel=1e-6)
    assert loss.wants_real_scores
    # the contract checks of the test kit pass, in the documented call order too
    gt.check_loss(loss)
    gt.check_loss_stateful(loss)


def test_relativistic_g_loss_depends_on_the_real_scores(plugins):
    loss = plugins.losses().get("ragan")
    fake = torch.tensor(FAKE)
    a = loss.g_loss(fake, torch.tensor(REAL))
    b = loss.g_loss(fake, torch.tensor(REAL) + 3)
    assert not torch.allclose(a, b)


def test_relativistic_without_real_scores_warns_once(plugins, capsys):
    from gankit_losses import RelativisticAverageLS

    loss = RelativisticAverageLS()
    fake = torch.tensor(FAKE)
    zero = loss.g_loss(fake, torch.zeros(3))
    assert loss.g_loss(fake).item() == pytest.approx(zero.item())
    loss.g_loss(fake)
    err = capsys.readouterr().err
    assert err.count("Warning: loss 'ralsgan': g_loss() got no real scores") == 1


def test_rsgan_pairs_need_equal_shapes(plugins):
    loss = plugins.losses().get("rsgan")
    with pytest.raises(ValueError, match="same shape"):
        loss.d_loss(torch.zeros(4), torch.zeros(3))


def test_relativistic_losses_are_listed(run_cli):
    import json

    res = run_cli("list-losses", "--json")
    names = {x["name"] for x in json.loads(res.stdout)}
    assert {"rsgan", "ragan", "ralsgan", "bce"} <= names


class OldLoss(Loss):  # written against gankit 0.1: one argument
    name = "old"

    def d_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def g_loss(self, fake_scores):
        return -fake_scores.mean()


class NewLoss(OldLoss):
    def g_loss(self, fake_scores, real_scores=None):
        return (real_scores.mean() if real_scores is not None else 0) - fake_scores.mean()


class KeywordLoss(OldLoss):
    def g_loss(self, fake_scores, *, real_scores=None):
        return NewLoss.g_loss(self, fake_scores, real_scores)


class StarLoss(OldLoss):
    def g_loss(self, *args):
        return NewLoss.g_loss(self, *args)


def test_call_g_loss_with_old_and_new_signatures():
    fake, real = torch.tensor([1.0, 3.0]), torch.tensor([10.0, 20.0])
    assert call_g_loss(OldLoss(), fake, real).item() == -2.0  # real scores not passed
    assert OldLoss().generator_loss(fake, real).item() == -2.0
    assert not OldLoss().wants_real_scores
    for cls in (NewLoss, KeywordLoss, StarLoss):
        assert cls().wants_real_scores, cls
        assert call_g_loss(cls(), fake, real).item() == 13.0, cls
        assert call_g_loss(cls(), fake).item() == -2.0, cls  # none to give


def test_signature_is_inspected_once_per_class(monkeypatch):
    import inspect

    from gankit import losses

    class Fresh(NewLoss):
        pass

    calls = []
    real_signature = inspect.signature
    monkeypatch.setattr(losses.inspect, "signature",
                        lambda f: calls.append(f) or real_signature(f))
    for _ in range(3):
        call_g_loss(Fresh(), torch.ones(2), torch.ones(2))
    assert len(calls) == 1


def test_call_g_loss_is_public():
    assert "call_g_loss" in gankit.__all__ and gankit.call_g_loss is call_g_loss
