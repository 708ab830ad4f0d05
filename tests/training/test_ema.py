"""gankit.ema: StyleGAN2-ADA's EMA schedule, the foreach update, state round trips."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from gankit import CheckpointError
from gankit.ema import EMA, ema_beta


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 2))


def perturb(net, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g))


def test_beta_against_a_hand_computation():
    # batch 64, half-life 10 kimg, ramp-up 0.05
    assert ema_beta(0, 64) == 0.0  # the first update copies
    # step 100: 6400 images seen, ramped half-life min(10000, 6400 * 0.05 = 320)
    assert ema_beta(100, 64) == pytest.approx(0.5 ** (64 / 320))
    # step 10000: 640000 * 0.05 = 32000 > 10000, the full half-life
    assert ema_beta(10_000, 64) == pytest.approx(0.5 ** (64 / 10_000))
    assert ema_beta(0, 64, rampup=None) == pytest.approx(0.5 ** (64 / 10_000))
    assert ema_beta(5, 32, half_life_kimg=1.0, rampup=0) == pytest.approx(0.5 ** (32 / 1000))
    ema = EMA(tiny_net(), batch_size=64)
    assert ema.beta(100) == ema_beta(100, 64)
    # half-life: after half_life_kimg thousand images the old weights weigh one half
    beta = ema_beta(10**6, 50)
    assert beta ** (10_000 / 50) == pytest.approx(0.5)


def test_module_is_an_eval_copy_without_grad_on_the_same_device_dtype_and_format():
    net = tiny_net().double().to(memory_format=torch.channels_last)
    ema = EMA(net, batch_size=8)
    assert not ema.module.training and net.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    for (name, a), b in zip(net.named_parameters(), ema.module.parameters()):
        assert a.dtype == b.dtype and a.device == b.device and a.stride() == b.stride(), name
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    assert ema.module[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_update_equals_a_manual_lerp_and_copies_buffers():
    net = tiny_net()
    ema = EMA(net, batch_size=16, half_life_kimg=0.1, rampup=None)
    old = {k: v.clone() for k, v in ema.module.state_dict().items()}
    perturb(net)
    net.train()
    net(torch.randn(5, 3, 4, 4))  # moves batch-norm running statistics
    step = 3
    beta = ema.beta(step)
    assert 0 < beta < 1
    ema.update(net, step)
    new = net.state_dict()
    for name, p in net.named_parameters():
        want = beta * old[name] + (1 - beta) * p.detach()
        torch.testing.assert_close(ema.module.state_dict()[name], want, rtol=1e-6, atol=1e-7)
    for name, b in net.named_buffers():
        assert torch.equal(ema.module.state_dict()[name], new[name]), name
    assert int(ema.module[1].num_batches_tracked) == 1


def test_first_update_with_rampup_copies_and_later_ones_average():
    net = tiny_net()
    ema = EMA(net, batch_size=8)
    perturb(net)
    ema.update(net, 0)  # beta 0
    for a, b in zip(net.parameters(), ema.module.parameters()):
        assert torch.equal(a, b)
    before = [p.clone() for p in ema.module.parameters()]
    perturb(net, seed=2)
    ema.update(net, 1000)
    for a, b, old in zip(net.parameters(), ema.module.parameters(), before):
        assert not torch.equal(b, a) and not torch.equal(b, old)


def test_update_does_not_touch_the_trained_network_or_its_gradients():
    net = tiny_net()
    ema = EMA(net, batch_size=8)
    net(torch.randn(2, 3, 4, 4)).sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    weights = [p.detach().clone() for p in net.parameters()]
    perturb(ema.module)
    ema.update(net, 50)
    for p, g, w in zip(net.parameters(), grads, weights):
        assert torch.equal(p.grad, g) and torch.equal(p.detach(), w)


def test_update_never_reads_a_value_back(monkeypatch):
    net = tiny_net()
    ema = EMA(net, batch_size=8)
    perturb(net)

    def no_sync(*a, **k):
        raise AssertionError("value read back from the device")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, no_sync)
    ema.update(net, 10)
    monkeypatch.undo()
    src = inspect.getsource(EMA.update) + inspect.getsource(ema_beta)
    for bad in (".item(", ".tolist(", ".cpu(", ".numpy("):
        assert bad not in src


def test_unwraps_compiled_style_wrappers():
    net = tiny_net()

    class Wrapper(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

    ema = EMA(Wrapper(net), batch_size=4)
    assert isinstance(ema.module, nn.Sequential)
    perturb(net)
    ema.update(Wrapper(net), 0)
    assert torch.equal(ema.module[0].weight, net[0].weight)


def test_state_dict_round_trips_through_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    net = tiny_net()
    ema = EMA(net, batch_size=8)
    perturb(net)
    ema.update(net, 100)
    state = ema.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    save_file(state, str(tmp_path / "ema.safetensors"))
    other = EMA(tiny_net(seed=5), batch_size=8)
    other.load_state_dict(load_file(str(tmp_path / "ema.safetensors")))
    for k, v in ema.module.state_dict().items():
        assert torch.equal(other.module.state_dict()[k], v), k


def test_a_state_that_does_not_fit_is_a_checkpoint_error():
    ema = EMA(tiny_net(), batch_size=8)
    bad = nn.Linear(3, 3).state_dict()
    with pytest.raises(CheckpointError, match="EMA generator .* does not fit"):
        ema.load_state_dict(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no EMA"):
        EMA(tiny_net(), batch_size=8, half_life_kimg=0)
    with pytest.raises(ValueError, match="batch_size"):
        EMA(tiny_net(), batch_size=0)
    ema = EMA(tiny_net(), batch_size=8)
    with pytest.raises(ValueError, match="structure"):
        ema.update(nn.Linear(2, 2), 1)
