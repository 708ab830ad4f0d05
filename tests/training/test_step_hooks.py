"""The built-in step's hooks for a discriminator with an extra loss
(``UnconditionalGAN.d_real_kwargs`` / ``d_extra_loss``, what lightweight uses): when
they are asked, what D receives, what D's optimizer steps on, what the step reports."""

from __future__ import annotations

import contextlib
import types

import torch

from gankit import Loss, UnconditionalGAN


class Diff(Loss):
    name = "diff"

    def d_loss(self, real_scores, fake_scores):
        return (fake_scores - real_scores).mean()

    def g_loss(self, fake_scores):
        return -fake_scores.mean()


class G(torch.nn.Module):
    def __init__(self, events):
        super().__init__()
        self.lin, self.events = torch.nn.Linear(3, 2), events

    def forward(self, z):
        self.events.append("G")
        return self.lin(z)


class D(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)

    def forward(self, x, twice=False):
        s = self.lin(x)
        return {"logits": s, "extra": s.pow(2)} if twice else s


class FakeTrainer:
    """What the built-in step uses of the trainer, recording the order of its calls."""

    def __init__(self):
        self.events, self.stepped = [], {}
        self.nets = {"G": G(self.events), "D": D()}
        self.loss, self.batch_size = Diff(), 4
        self.spec = types.SimpleNamespace(num_classes=0)  # unlabelled data

    def next_batch(self):
        self.events.append("batch")
        return torch.randn(4, 2)

    def latent(self, n):
        self.events.append("latent")
        return torch.randn(n, 3)

    def autocast(self):
        return contextlib.nullcontext()

    def requires_grad(self, names, flag):
        pass

    def discriminate(self, x, net="D", real=False, **kwargs):
        self.events.append(("D", real, tuple(sorted(kwargs))))
        return self.nets[net](x, **kwargs)

    def backward_step(self, name, loss):
        self.events.append(("step", name))
        self.stepped[name] = loss.detach()
        loss.backward()


class WithExtra(UnconditionalGAN):
    name = "extra"

    def d_real_kwargs(self, t):
        t.events.append("kwargs")
        return {"twice": True}

    def d_extra_loss(self, t, real_out, real):
        term = real_out["extra"].mean()
        return 10 * term, {"loss_extra": term}


def test_the_extra_loss_joins_d_loss_and_is_reported():
    t = FakeTrainer()
    out = WithExtra().train_step(t)
    # the kwargs are asked before the generated batch is made (their random draws keep
    # their place), and only the real batch's D call gets them
    assert t.events[:7] == ["batch", "latent", "kwargs", "G", ("D", True, ("twice",)),
                            ("D", False, ()), ("step", "D")]
    assert set(out) == {"loss_d", "loss_g", "loss_extra"}
    assert not any(v.requires_grad for v in out.values())
    # D's optimizer steps on the adversarial loss (on the scores of D's dict) plus the term
    assert float(out["loss_extra"]) > 0
    assert torch.allclose(t.stepped["D"], out["loss_d"] + 10 * out["loss_extra"])


def test_without_the_hooks_the_step_is_the_plain_one():
    t = FakeTrainer()
    out = UnconditionalGAN().train_step(t)
    assert "kwargs" not in t.events and ("D", True, ()) in t.events
    assert set(out) == {"loss_d", "loss_g"}
    assert torch.equal(t.stepped["D"], out["loss_d"])


class WithFakeExtra(UnconditionalGAN):
    """Asks for D's extra output on the generated batch in G's update."""
    name = "fake-extra"

    def d_fake_kwargs(self, t):
        return {"twice": True}

    def g_extra_loss(self, t, fake, z, labels, fake_out=None):
        term = fake_out["extra"].mean()
        return 3 * term, {"loss_fake_extra": term}


def test_the_g_update_gives_ds_output_to_g_extra_loss_without_a_second_call():
    t = FakeTrainer()
    out = WithFakeExtra().train_step(t)
    g_update = t.events[t.events.index(("step", "D")) + 1:]
    # one call of D in G's update, with the model's kwargs; no kwargs in D's update
    assert [e for e in g_update if e[0] == "D"] == [("D", False, ("twice",))]
    assert ("D", True, ()) in t.events and ("D", False, ()) in t.events
    assert float(out["loss_fake_extra"]) > 0
    assert torch.allclose(t.stepped["G"], out["loss_g"] + 3 * out["loss_fake_extra"])


def test_a_g_extra_loss_written_without_fake_out_still_works():
    """A model written before d_fake_kwargs (four-argument g_extra_loss) gets the old call."""

    class Old(UnconditionalGAN):
        name = "old"

        def g_extra_loss(self, t, fake, z, labels):
            return fake.pow(2).mean(), {}

    t = FakeTrainer()
    Old().train_step(t)
    assert len([e for e in t.events if e[0] == "D"]) == 3
