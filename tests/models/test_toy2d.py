"""The 2-D mixtures ring8/grid25, their metrics, scatter plots, and `gankit evaluate`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gankit import GankitError, LoadOptions
from gankit.metrics2d import default_min_count, mode_stats
from gankit.plots import FAKE, REAL, scatter_image
from gankit.train import TrainOptions

from kit import prepare


def load(plugins, name, seed=0):
    return plugins.datasets().get(name).load(LoadOptions(seed=seed))


def test_ring8_matches_the_papers_setting(plugins):
    d = load(plugins, "ring8")
    assert d.spec.kind == "vector" and d.spec.dim == 2 and d.spec.name == "ring8"
    assert d.samples.dtype == torch.float32 and tuple(d.samples.shape) == (10_000, 2)
    c = torch.tensor(d.meta["centers"])
    assert c.shape == (8, 2) and d.meta["std"] == 0.02
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 2.0))
    angles = sorted(round(math.degrees(math.atan2(y, x))) % 360 for x, y in c.tolist())
    assert angles == list(range(0, 360, 45))
    # the points scatter around the centres with the stated spread
    nearest = torch.cdist(d.samples, c).min(1).values
    assert 0.02 < nearest.mean().item() < 0.03  # mean radius of a 2-D Gaussian: std*sqrt(pi/2)


def test_grid25_matches_the_papers_setting(plugins):
    d = load(plugins, "grid25")
    c = sorted(map(tuple, d.meta["centers"]))
    assert c == [(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]
    assert d.meta["std"] == 0.05 and tuple(d.samples.shape) == (10_000, 2)


def test_data_is_seeded(plugins):
    a, b, c = load(plugins, "ring8", 1), load(plugins, "ring8", 1), load(plugins, "ring8", 2)
    assert torch.equal(a.samples, b.samples) and not torch.equal(a.samples, c.samples)


def test_real_data_scores_like_a_perfect_generator(plugins):
    for name, modes in (("ring8", 8), ("grid25", 25)):
        d = load(plugins, name)
        s = mode_stats(d.samples[:2500], d.meta["centers"], d.meta["std"])
        assert s["covered"] == modes
        # within 3 std of a 2-D Gaussian: 1 - exp(-9/2) = 98.9%
        assert abs(s["high_quality"] - (1 - math.exp(-4.5))) < 0.01


# -- the metric on hand-made samples --------------------------------------------------

RING = [[2 * math.cos(k * math.pi / 4), 2 * math.sin(k * math.pi / 4)] for k in range(8)]


def test_all_modes_exactly_is_full_coverage():
    samples = torch.tensor(RING * 100)
    s = mode_stats(samples, RING, 0.02)
    assert (s["covered"], s["modes"], s["high_quality"]) == (8, 8, 1.0)
    assert s["counts"] == [100] * 8 and s["samples"] == 800


def test_one_mode_is_one_of_eight():
    s = mode_stats(torch.tensor([RING[3]] * 2500), RING, 0.02)
    assert s["covered"] == 1 and s["high_quality"] == 1.0
    assert s["counts"] == [0, 0, 0, 2500, 0, 0, 0, 0]


def test_quality_radius_is_three_std():
    inside = [[2.0 + 0.059, 0.0]]
    outside = [[2.0 + 0.061, 0.0]]
    assert mode_stats(torch.tensor(inside), RING, 0.02, min_count=1)["high_quality"] == 1.0
    s = mode_stats(torch.tensor(outside), RING, 0.02, min_count=1)
    assert s["high_quality"] == 0.0 and s["covered"] == 0


def test_a_mode_needs_a_fifth_of_its_share():
    assert default_min_count(2500, 25) == 20  # PacGAN: 20 of 2500 samples on 25 modes
    assert default_min_count(2500, 8) == 63
    samples = [RING[0]] * 63 + [RING[1]] * 62 + [[0.0, 0.0]] * 2375
    s = mode_stats(torch.tensor(samples), RING, 0.02)
    assert s["covered"] == 1 and s["high_quality"] == pytest.approx(125 / 2500)
    assert mode_stats(torch.tensor(samples), RING, 0.02, min_count=62)["covered"] == 2


def test_non_finite_samples_are_low_quality():
    samples = torch.tensor([RING[0], [float("nan"), 0.0], [float("inf"), 1.0], RING[0]])
    s = mode_stats(samples, RING, 0.02, min_count=1)
    assert s["high_quality"] == 0.5 and s["counts"][0] == 2


# -- pictures -------------------------------------------------------------------------


def test_scatter_image_draws_samples_over_the_data():
    real = torch.tensor(RING * 10)
    img = scatter_image(torch.tensor([[0.0, 0.0]]), real, RING)
    assert img.dtype == torch.uint8 and tuple(img.shape) == (1, 3, 384, 384)
    colours = {tuple(p) for p in img[0].reshape(3, -1).T.unique(dim=0).tolist()}
    assert FAKE in colours and REAL in colours
    assert tuple(img[0, :, 192, 192].tolist()) == FAKE  # the sample at the origin, mid-picture


# -- the commands ---------------------------------------------------------------------


def tiny_vector_run(tmp_path, steps=3, **kw):
    o = TrainOptions(model="vanilla", dataset="ring8", steps=steps, batch_size=32,
                     out=str(tmp_path / "runs"), name="v", sample_every=steps,
                     checkpoint_every=0, log_every=1, grid=16, device="cpu", **kw)
    t = prepare(o)
    t.fit()
    return t


def test_vector_run_previews_sample_and_npy(tmp_path, run_cli):
    t = tiny_vector_run(tmp_path)
    from PIL import Image

    with Image.open(t.run_dir / "samples" / "step-000003.png") as im:
        assert im.size == (384, 384) and im.mode == "RGB"  # one picture: no grid padding
    res = run_cli("sample", t.run_dir, "-n", "50", "--out", tmp_path / "s.png")
    assert res.exit_code == 0, res.stderr
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (384, 384)
    res = run_cli("sample", t.run_dir, "-n", "50", "--out", tmp_path / "s.npy")
    assert res.exit_code == 0, res.stderr
    arr = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert arr.shape == (50, 2) and arr.dtype == np.float32
    res = run_cli("sample", t.run_dir, "--out", tmp_path / "s.jpg")
    assert res.exit_code == 2 and ".npy" in res.stderr and "s.jpg" in res.stderr


def test_evaluate_on_a_generator_pinned_to_one_mode(tmp_path, run_cli):
    t = tiny_vector_run(tmp_path, steps=1, ema=0)  # G is edited below: no EMA copy
    last = t.nets["G"].net[-1]
    with torch.no_grad():  # every sample exactly on the first mode (2, 0)
        last.weight.zero_()
        last.bias.copy_(torch.tensor([2.0, 0.0]))
    t.save_checkpoint()
    res = run_cli("evaluate", t.run_dir, "--json", "-n", "400")
    assert res.exit_code == 0, res.stderr
    d = json.loads(res.stdout)
    assert (d["covered"], d["modes"], d["high_quality"], d["samples"]) == (1, 8, 1.0, 400)
    assert d["counts"][0] == 400 and d["data"] == "ring8" and d["step"] == 1
    res = run_cli("evaluate", t.run_dir, "-n", "400")
    assert res.exit_code == 0 and "1 / 8" in res.stdout and "100.0%" in res.stdout


def test_evaluate_is_reproducible_and_seeded(tmp_path, run_cli):
    t = tiny_vector_run(tmp_path)
    a = json.loads(run_cli("evaluate", t.run_dir, "--json", "-n", "300").stdout)
    b = json.loads(run_cli("evaluate", t.run_dir, "--json", "-n", "300").stdout)
    c = json.loads(run_cli("evaluate", t.run_dir, "--json", "-n", "300", "--seed", "7").stdout)
    assert a == b and a["seed"] == 0 and c["seed"] == 7


def test_evaluate_refuses_image_runs_and_bad_flags(plugins, run_cli, tmp_path):
    from gankit import DataSpec
    from gankit.cli.evaluate import mixture_of

    with pytest.raises(GankitError, match="2-D mixture"):
        mixture_of(DataSpec(kind="image", channels=3, size=32, name="sushi"))
    centers, std = mixture_of(DataSpec(kind="vector", dim=2, channels=0, size=0, name="grid25"))
    assert len(centers) == 25 and std == 0.05
    res = run_cli("evaluate", tmp_path / "nope")
    assert res.exit_code == 1 and "no such run" in res.stderr
    res = run_cli("evaluate", tmp_path / "nope", "-n", "0")
    assert res.exit_code == 2 and "-n" in res.stderr
