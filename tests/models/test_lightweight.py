"""The lightweight model (FastGAN): the plugin contract, its networks' outputs, its
training defaults (hinge, DiffAugment always on), a refused size, the trainer passing a
discriminator's several outputs through, and sample/interpolate on its runs."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.testing as gt
from gankit import DataSpec

import gankit_lightweight as plugin

SMALL = ["--set", "ngf=4", "--set", "ndf=4", "--set", "z_dim=16"]


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "pics"
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return path


def test_builtin_plugin_loads_light():
    info = gt.plugin_info("lightweight", plugins=gt.builtin_plugins())
    assert info["error"] is None and info["builtin"] and info["models"] == ["lightweight"]
    code = "import sys, gankit_lightweight; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # `gankit --help` stays fast


def test_plugin_and_model_contract():
    plugins = gt.builtin_plugins()
    res = gt.check_model("lightweight", plugins=plugins, spec=DataSpec("image", 3, 64),
                         sets={"ngf": 4, "ndf": 4, "z_dim": 16}, steps=2)
    assert set(res["metrics"]) == {"loss_d", "loss_g", "loss_rec"}
    assert res["metrics"]["loss_rec"] > 0
    t = res["trainer"]
    assert t.loss.name == "hinge"
    assert t.options.augment == "color,translation,cutout"  # on, though 8 images < 5000 anyway
    assert "G" in t.ema  # the trainer keeps the EMA generator


def test_defaults_and_widths():
    m = plugin.Lightweight()
    d = m.training_defaults()
    assert (d["loss"], d["lr"], d["betas"], d["image_size"], d["dataset"]) == (
        "hinge", 2e-4, (0.5, 0.999), 64, "sushi")
    c = m.default_config()
    assert (c.ngf, c.ndf, c.z_dim) == (16, 16, 256)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_networks_at_each_size(size):
    from gankit_lightweight.nets import build, reconstruction_loss

    cfg = plugin.LightweightConfig(ngf=4, ndf=4, z_dim=8)
    plugin.Lightweight().check(cfg, DataSpec("image", 3, size))
    nets = build(cfg, DataSpec("image", 3, size))
    G, D = nets["G"], nets["D"]
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 3, size, size) and x.abs().max() <= 1
    scores = D(x)
    assert torch.is_tensor(scores) and scores.shape == (2, 50)  # two 5x5 heads
    out = D(x, reconstruct=True, part=3)
    assert out["logits"].shape == scores.shape
    rec, part = min(128, size), min(128, size // 2)
    assert out["rec_big"].shape == out["target_big"].shape == (2, 3, rec, rec)
    assert out["rec_part"].shape == out["target_part"].shape == (2, 3, part, part)
    # targets are D's own input: the part target is the bottom-right quadrant
    half = size // 2
    quadrant = x[:, :, half:, half:]
    want = torch.nn.functional.avg_pool2d(quadrant, half // part) if half > part else quadrant
    assert torch.allclose(out["target_part"], want)
    loss = reconstruction_loss(out)
    loss.backward()
    assert torch.isfinite(loss) and D.decode_part.main[-2].parametrizations.weight.original.grad is not None
    if size == 64:  # bf16 autocast works on a CPU (no antialiased interpolation inside)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.isfinite(reconstruction_loss(D(x.detach(), reconstruct=True)))
    # the SLE gates exist where the paper has them: 4 -> 64, 8 -> 128, 16 -> 256
    assert sorted(int(k) for k in G.sle) == [s for s in (64, 128, 256) if s <= size]


@pytest.mark.parametrize("size", [32, 96, 48])
def test_refuses_sizes_it_cannot_build(size, run_cli, folder):
    r = run_cli("train", "lightweight", "--data", folder, "--image-size", size, *SMALL,
                "--steps", "1")
    assert r.exit_code != 0
    err = r.stderr.strip()
    assert err.startswith("Error: --image-size") and "64, 128, 256" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in r.output


def test_refuses_a_loss_that_forbids_batch_norm(run_cli, folder):
    r = run_cli("train", "lightweight", "--data", folder, "--image-size", "64", *SMALL,
                "--steps", "1", "--loss", "wgan-gp")
    assert r.exit_code == 1
    assert "batch norm" in r.stderr and "--loss wgan-gp" in r.stderr
    assert "Traceback" not in r.output


def test_discriminate_passes_outputs_and_kwargs_through():
    """Trainer.discriminate gives a D's whole output back, forwards keyword arguments,
    and the adaptive augmentation counts only the scores."""
    from gankit.augment import Augment
    from gankit.train.loop import Trainer
    from gankit.train.steps import scores_of

    seen = {}

    class D(torch.nn.Module):
        def forward(self, x, reconstruct=False, part=0):
            seen["kw"] = (reconstruct, part)
            s = torch.full((x.shape[0], 3), -1.0)
            return {"logits": s, "extra": torch.ones(7)} if reconstruct else s

    aug = Augment("color", 0.0, ada_target=0.6, device=torch.device("cpu"))
    fake_trainer = types.SimpleNamespace(augment=aug, nets={"D": D()})
    out = Trainer.discriminate(fake_trainer, torch.zeros(2, 3, 8, 8), real=True,
                               reconstruct=True, part=2)
    assert seen["kw"] == (True, 2) and set(out) == {"logits", "extra"}
    assert aug._count == 6  # the 2 x 3 scores, not the 7 extra values
    assert float(aug._sign_sum) == -6
    assert scores_of((out["logits"], 1)) is out["logits"] and scores_of(out) is out["logits"]


def test_model_default_augmentation_holds_for_large_data():
    """Other models get augmentation only below 5,000 images; lightweight always."""
    from gankit.train.options import TrainOptions
    from gankit.train.choices import small_data_choices

    class Big:
        spec = DataSpec("image", 3, 64)

        def __len__(self):
            return 20_000

    notes = small_data_choices(TrainOptions(model="lightweight"), plugin.Lightweight(),
                                {"A": Big()})
    o = TrainOptions(model="lightweight")
    small_data_choices(o, plugin.Lightweight(), {"A": Big()})
    assert o.augment == "color,translation,cutout"
    assert any("lightweight's default" in n for n in notes)
    o = TrainOptions(model="lightweight", augment="none")
    small_data_choices(o, plugin.Lightweight(), {"A": Big()})
    assert o.augment == "none"
    o = TrainOptions(model="dcgan")
    small_data_choices(o, gt.builtin_plugins().models().get("dcgan"), {"A": Big()})
    assert o.augment == "none"


def test_train_sample_interpolate(run_cli, folder, tmp_path):
    r = run_cli("train", "lightweight", "--data", folder, "--image-size", "64", *SMALL,
                "--batch-size", "4", "--steps", "2", "--name", "lw", "--quiet")
    assert r.exit_code == 0, r.output
    run = tmp_path / "runs" / "lw"
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["augment"] == "color,translation,cutout"
    assert config["loss"] == "hinge"
    rec = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert rec["step"] == 2 and {"loss_d", "loss_g", "loss_rec"} <= set(rec)
    r = run_cli("sample", "runs/lw", "-n", "4", "--out", "grid.png")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "grid.png") as im:
        assert im.width >= 2 * 64
    r = run_cli("interpolate", "runs/lw", "--steps", "3", "--out", "walk", "--gif")
    assert r.exit_code == 0, r.output
    frames = sorted((tmp_path / "walk").glob("frame-*.png"))
    assert len(frames) == 3 and (tmp_path / "walk" / "interpolation.gif").stat().st_size > 0
    # no noise at sampling time: a seed always gives the same picture
    for name in ("a.png", "b.png"):
        assert run_cli("sample", "runs/lw", "--seeds", "5", "--out", name).exit_code == 0
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png"))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("own, want", [(96, 64), (128, 128), (300, 256), (None, 64), (40, 64)])
def test_image_size_from_the_data_set(own, want, monkeypatch):
    """Without --image-size: the data set's size when buildable, else the largest below."""
    from gankit.models import GANModel
    from gankit.train.options import TrainOptions

    seen = {}
    monkeypatch.setattr(GANModel, "load_data",
                        lambda self, plugins, options, progress=None: seen.setdefault(
                            "size", options.image_size))
    ds = types.SimpleNamespace(default_size=own)
    plugins = types.SimpleNamespace(datasets=lambda: {"sushi": ds, "imagefolder": ds})
    plugin.Lightweight().load_data(plugins, TrainOptions(model="lightweight"))
    assert seen["size"] == want
    seen.clear()
    plugin.Lightweight().load_data(plugins, TrainOptions(model="lightweight", image_size=128))
    assert seen["size"] == 128  # an explicit size is left to check()
