"""gankit-lsgan-mnist's own tests, written with gankit's public test kit."""

from __future__ import annotations

import json

import pytest

import gankit.testing as gt
from gankit import DataSpec, GankitError, get_model

import gankit_lsgan_mnist as plugin
from gankit_lsgan_mnist.curve import read_metrics, write_curve

TINY = {"ngf": 8, "ndf": 8, "z_dim": 8}
TRAIN = ["train", "lsgan-mnist", "--dataset", "digits", "--steps", "3", "--batch-size", "8",
         "--set", "ngf=8", "--set", "ndf=8", "--log-every", "1", "--sample-every", "0",
         "--checkpoint-every", "3"]


@pytest.fixture(scope="module")
def plugins():
    return gt.check_plugin(plugin, "lsgan-mnist")


def test_registers_model_loss_dataset_hook_and_command(plugins):
    info = gt.plugin_info("lsgan-mnist", plugins=plugins)  # as `gankit plugins --json` shows it
    assert info["error"] is None
    assert set(info["hooks"]) == {"register_models", "register_losses", "register_datasets",
                                  "on_train_end", "register_commands"}
    assert (info["models"], info["losses"], info["datasets"], info["commands"]) == (
        ["lsgan-mnist"], ["lsgan-pearson"], ["digits"], ["loss-curve"])
    assert get_model("lsgan-digits", plugins=plugins).name == "lsgan-mnist"  # alias


def test_model_contract_28px_grayscale(plugins, tmp_path):
    out = gt.check_model("lsgan-mnist", plugins=plugins, spec=DataSpec("image", 1, 28),
                         sets=TINY, workdir=tmp_path)
    assert set(out["metrics"]) == {"loss_d", "loss_g"}


def test_model_contract_with_own_loss_and_rgb(plugins):
    gt.check_model("lsgan-mnist", plugins=plugins, spec=DataSpec("image", 3, 16),
                   loss="lsgan-pearson", sets=TINY, steps=2)


def test_critic_has_no_batchnorm_when_the_loss_forbids_it(plugins):
    from torch import nn

    class NoBN(plugin.LSGANPearson):
        batchnorm_ok = False

    model = plugins.models().get("lsgan-mnist")
    nets = model.build(model.Config(**TINY), DataSpec("image", 1, 28), NoBN())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in nets["D"].modules())
    nets = model.build(model.Config(**TINY), DataSpec("image", 1, 28), None)
    assert any(isinstance(m, nn.BatchNorm2d) for m in nets["D"].modules())


def test_sizes_the_model_refuses(plugins):
    model = plugins.models().get("lsgan-mnist")
    with pytest.raises(GankitError, match="--image-size 30: lsgan-mnist needs a multiple of 4"):
        model.check(model.Config(), DataSpec("image", 1, 30))
    with pytest.raises(GankitError, match="needs image data"):
        model.check(model.Config(), DataSpec("vector", dim=2))


def test_loss_contract_and_hand_computed_values():
    import torch

    loss = gt.check_loss(plugin.LSGANPearson())
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # D: 0.5 * mean((r - 1)^2) + 0.5 * mean((f + 1)^2) = 0.5 * 0.5 + 0.5 * 2 = 1.25
    assert loss.d_loss(real, fake).item() == pytest.approx(1.25)
    # G: 0.5 * mean(f^2) = 0.5 * 1 = 0.5
    assert loss.g_loss(fake).item() == pytest.approx(0.5)


def test_dataset_contract_and_labels():
    import torch

    data = gt.check_dataset(plugin.Digits(), {"extra": {"digits_count": 200}})
    assert tuple(data.samples.shape) == (200, 1, 28, 28)
    labels = torch.tensor(data.meta["labels"])
    assert torch.bincount(labels, minlength=10).tolist() == [20] * 10
    means = torch.stack([data.samples[labels == d].float().mean(0) for d in range(10)])
    # every digit looks different from every other one on average
    dist = torch.cdist(means.flatten(1), means.flatten(1))
    assert (dist + torch.eye(10) * 1e9).min() > 100
    small = gt.check_dataset(plugin.Digits(), {"image_size": 16, "extra": {"digits_count": 20}})
    assert small.spec.size == 16 and small.spec.channels == 1


def test_train_through_gankit_draws_the_loss_curve(plugins, tmp_path):
    result = gt.run_cli(TRAIN + ["--out", tmp_path, "--name", "run"], plugins=plugins)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    steps, series = read_metrics(run / "metrics.jsonl")
    assert steps == [1, 2, 3] and set(series) == {"loss_d", "loss_g"}
    from PIL import Image

    with Image.open(run / "loss-curve.png") as im:  # written by the on_train_end hook
        assert im.size == (640, 320)
    meta = json.loads((run / "config.json").read_text())
    assert meta["model"] == "lsgan-mnist" and meta["data"]["name"] == "digits"


def test_loss_curve_command(plugins, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        '{"step": 10, "loss_d": 0.5, "loss_g": 0.25}\n{"torn line\n'
        '{"step": 20, "loss_d": 0.4, "loss_g": 0.3}\n')
    result = gt.run_cli(["loss-curve", run, "--out", tmp_path / "c.png"], plugins=plugins)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run / "loss-curve.png").exists()


def test_loss_curve_command_errors_are_one_line(plugins, tmp_path):
    result = gt.run_cli(["loss-curve", tmp_path / "nope"], plugins=plugins)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'nope'}: no such run folder or checkpoint"]
    result = gt.run_cli(["loss-curve", tmp_path], plugins=plugins)
    assert result.exit_code == 1
    assert "no metrics.jsonl there" in result.stderr


def test_hook_ignores_runs_without_metrics(tmp_path):
    assert write_curve(tmp_path) is None
    assert not (tmp_path / "loss-curve.png").exists()
