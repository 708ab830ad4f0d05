"""gankit.augment: DiffAugment's policies, per-sample probability and ADA's adaptive p."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit import UsageError
from gankit.augment import (Augment, apply_params, augment, cutout, cutout_size, draw_params,
                            parse_policy, translate, translation_range)


def images(n=8, c=3, size=32, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, c, size, size), generator=g) * 2 - 1).to(dtype)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_shape_dtype_device_and_memory_format_are_kept(dtype, channels_last):
    x = images(dtype=dtype)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = augment(x, generator=gen(1))
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    if channels_last:
        assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
    else:
        assert y.is_contiguous()


def test_channels_last_input_gives_the_same_values_as_contiguous():
    x = images()
    a = augment(x, generator=gen(3))
    b = augment(x.to(memory_format=torch.channels_last), generator=gen(3))
    torch.testing.assert_close(a, b.contiguous())


@pytest.mark.parametrize("p", [0.0, 0, torch.tensor(0.0)])
def test_p_zero_is_the_identity(p):
    x = images()
    assert torch.equal(augment(x, p=p, generator=gen(2)), x)


def test_p_one_changes_every_image():
    x = images(n=64)
    y = augment(x, p=1.0, generator=gen(4))
    changed = (y - x).abs().flatten(1).amax(1) > 1e-3
    assert bool(changed.all())


def test_each_operation_is_drawn_per_sample_with_probability_p():
    x = images(n=4000, c=1, size=4)
    params = draw_params(x, "color,translation,cutout", p=torch.tensor(0.3), generator=gen(5))
    frac = (params["brightness"] != 0).float().mean().item()
    assert 0.26 < frac < 0.34
    frac_cut = params["cutout_on"].float().mean().item()
    assert 0.26 < frac_cut < 0.34
    # independent draws per operation, not one coin for all
    both = ((params["brightness"] != 0) & params["cutout_on"]).float().mean().item()
    assert 0.06 < both < 0.12


def test_same_generator_seed_same_output_other_seed_differs():
    x = images()
    a = augment(x, generator=gen(7))
    b = augment(x, generator=gen(7))
    c = augment(x, generator=gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_global_rng_is_used_without_a_generator():
    x = images()
    torch.manual_seed(11)
    a = augment(x)
    torch.manual_seed(11)
    b = augment(x)
    assert torch.equal(a, b)


def test_gradients_flow_to_the_input():
    x = images(n=4).requires_grad_(True)
    augment(x, generator=gen(9)).square().sum().backward()
    assert x.grad is not None and bool((x.grad.abs().flatten(1).sum(1) > 0).all())


def test_translation_gradient_matches_the_known_offset():
    x = images(n=2, c=2, size=8).requires_grad_(True)
    dy, dx = torch.tensor([2, -3]), torch.tensor([-1, 0])
    translate(x, dy, dx).sum().backward()
    expected = np.zeros((2, 2, 8, 8), np.float32)
    for i in range(2):  # a source pixel counts when it lands inside the image
        for r in range(8):
            for c in range(8):
                if 0 <= r + dy[i] < 8 and 0 <= c + dx[i] < 8:
                    expected[i, :, r, c] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_gradcheck_of_every_operation():
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    params = draw_params(x, "color,translation,cutout", p=1.0, generator=gen(12))
    assert torch.autograd.gradcheck(lambda t: apply_params(t, params), (x,))


def test_translation_geometry_on_a_synthetic_image():
    x = torch.arange(1, 1 + 6 * 7, dtype=torch.float32).view(1, 1, 6, 7)
    y = translate(x, torch.tensor([2]), torch.tensor([-1]))[0, 0]
    src = x[0, 0]
    for r in range(6):
        for c in range(7):
            sr, sc = r - 2, c + 1  # content moved 2 down, 1 left
            want = src[sr, sc] if 0 <= sr < 6 and 0 <= sc < 7 else 0.0
            assert y[r, c] == want


def test_random_translation_stays_within_an_eighth_and_shifts_whole_images():
    x = torch.arange(32 * 32, dtype=torch.float32).view(1, 1, 32, 32).repeat(200, 1, 1, 1) + 1
    params = draw_params(x, "translation", p=1.0, generator=gen(13))
    shifts = params["translation"]
    assert translation_range(32, 32) == (4, 4)
    assert int(shifts.abs().max()) == 4 and set(shifts[:, 0].tolist()) == set(range(-4, 5))
    y = apply_params(x, params)
    for i in range(0, 200, 37):
        torch.testing.assert_close(y[i], translate(x[i:i + 1], shifts[i, :1], shifts[i, 1:])[0])
        dy, dx = shifts[i].tolist()
        assert int((y[i] == 0).sum()) == 32 * 32 - (32 - abs(dy)) * (32 - abs(dx))


def test_cutout_geometry():
    x = torch.ones(1, 2, 10, 12)
    y = cutout(x, torch.tensor([3]), torch.tensor([-2]), 5, 6)
    hole = y[0, 0] == 0
    expected = torch.zeros(10, 12, dtype=torch.bool)
    expected[3:8, 0:4] = True  # rows 3..7, columns -2..3 clipped to 0..3
    assert torch.equal(hole, expected) and torch.equal(y[0, 0], y[0, 1])


def test_random_cutout_is_one_half_size_square_clipped_by_the_border():
    x = torch.ones(300, 1, 32, 32)
    params = draw_params(x, "cutout", p=1.0, generator=gen(14))
    y = apply_params(x, params)
    assert cutout_size(32, 32) == (16, 16)
    for i in range(300):
        zeros = (y[i, 0] == 0).nonzero()
        assert len(zeros) > 0
        rows, cols = zeros[:, 0], zeros[:, 1]
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(zeros) == h * w and h <= 16 and w <= 16  # one rectangle
    full = [(y[i, 0] == 0).sum().item() == 256 for i in range(300)]
    assert any(full) and not all(full)  # inside the image or hanging over its border


def numpy_color(x, b, s, c):
    """DiffAugment's reference colour ops, in numpy."""
    x = x + b[:, None, None, None]
    m = x.mean(axis=1, keepdims=True)
    x = (x - m) * s[:, None, None, None] + m
    m = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - m) * c[:, None, None, None] + m


def test_color_ops_match_a_numpy_reference():
    x = images(n=16, size=8, dtype=torch.float64)
    params = draw_params(x, "color", p=1.0, generator=gen(15))
    b, s, c = (params[k].double().numpy() for k in ("brightness", "saturation", "contrast"))
    assert (np.abs(b) <= 0.5).all() and ((0 <= s) & (s <= 2)).all() and ((0.5 <= c) & (c <= 1.5)).all()
    want = numpy_color(x.numpy(), b, s, c)
    got = augment(x, "color", p=1.0, generator=gen(15)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_policies_parse_and_bad_names_are_usage_errors():
    assert parse_policy("color,translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy("Colour, cutout") == ("color", "cutout")
    assert parse_policy("") == () and parse_policy("none") == ()
    with pytest.raises(UsageError, match="'flip'.*choose from color, translation, cutout"):
        parse_policy("color,flip")


def test_empty_policy_returns_the_input():
    x = images()
    assert augment(x, "none") is x


def test_ada_p_moves_up_when_rt_above_target_and_down_when_below():
    aug = Augment(p=0.5, ada_target=0.6, ada_kimg=100)
    aug.accumulate(torch.tensor([1.0, 2.0, 3.0, -1.0]))  # r_t = 0.5 < 0.6: down
    r_t = aug.adjust(batch_size=64, interval_steps=4)
    assert r_t.item() == pytest.approx(0.5)
    step = 64 * 4 / 100_000
    assert aug.p.item() == pytest.approx(0.5 - step)
    aug.accumulate(torch.ones(10))  # r_t = 1 > 0.6: up
    aug.adjust(batch_size=64, interval_steps=4)
    assert aug.p.item() == pytest.approx(0.5)
    assert aug.adjust(64, 4) is None and aug.p.item() == pytest.approx(0.5)  # nothing new


def test_ada_p_is_clamped_to_zero_and_one():
    aug = Augment(p=0.999, ada_target=0.6, ada_kimg=0.001)  # huge steps
    aug.accumulate(torch.ones(8))
    aug.adjust(batch_size=64)
    assert aug.p.item() == 1.0
    aug.accumulate(-torch.ones(8))
    aug.adjust(batch_size=64)
    assert aug.p.item() == 0.0


def test_fixed_p_without_target_and_state_round_trip():
    fixed = Augment("translation", p=0.7)
    fixed.accumulate(torch.ones(8))
    assert fixed.adjust(64) is None and fixed.p.item() == pytest.approx(0.7)

    aug = Augment(p=0.25, ada_target=0.6)
    aug.accumulate(torch.tensor([1.0, -1.0, 1.0]))
    state = aug.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    other = Augment(p=0.0, ada_target=0.6)
    other.load_state_dict(state)
    assert other.p.item() == pytest.approx(0.25)
    other.adjust(32)
    aug.adjust(32)
    assert other.p.item() == aug.p.item()


def test_augment_object_never_reads_values_back(monkeypatch):
    aug = Augment(p=0.5, ada_target=0.6)
    x = images()

    def no_sync(*a, **k):
        raise AssertionError("value read back from the device")

    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, no_sync)
    y = aug(x, generator=gen(16))
    aug.accumulate(torch.randn(8))
    aug.adjust(batch_size=8)
    monkeypatch.undo()
    assert y.shape == x.shape


def test_augment_with_a_tensor_p_matches_a_float_p():
    x = images()
    a = augment(x, p=0.5, generator=gen(17))
    b = Augment(p=0.5)(x, generator=gen(17))
    assert torch.equal(a, b)


def test_ada_all_reduce_sums_signs_across_processes():
    aug = Augment(p=0.5, ada_target=0.6, ada_kimg=100)
    aug.accumulate(torch.tensor([-1.0, -1.0]))  # this process alone: r_t = -1, down

    def fake_all_reduce(t):  # another process saw four positive scores
        t.add_(torch.tensor([4.0, 4.0]))

    r_t = aug.adjust(batch_size=10, interval_steps=1, all_reduce=fake_all_reduce)
    assert r_t.item() == pytest.approx(2 / 6)  # (4 - 2) / 6 < 0.6: down
    assert aug.p.item() == pytest.approx(0.5 - 10 / 100_000)
    # a process that accumulated nothing still joins the reduction and moves p alike
    idle = Augment(p=0.5, ada_target=0.6, ada_kimg=100)
    idle.adjust(batch_size=10, interval_steps=1,
                all_reduce=lambda t: t.add_(torch.tensor([2.0, 6.0])))
    assert idle.p.item() == aug.p.item()
