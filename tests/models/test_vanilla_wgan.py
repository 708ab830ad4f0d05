"""The vanilla (MLP) GAN and the WGAN-GP model: architecture, options, and the three
textbook models training a few steps on tiny synthetic 28x28 digits."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from gankit import Data, Dataset, DataSpec, GankitError, hookimpl
from gankit.config import apply_sets
from gankit.loading import load_model
from gankit.train import TrainOptions

from kit import prepare


class TinyDigits(Dataset):
    """48 MNIST-shaped 28x28 grey images: white bars, crosses and boxes on black."""

    name = "tiny-digits"
    default_size = 28

    def load(self, options):
        g = torch.Generator().manual_seed(0)
        x = torch.zeros(48, 1, 28, 28, dtype=torch.uint8)
        for i in range(48):
            a, b = (int(v) for v in torch.randint(6, 20, (2,), generator=g))
            if i % 3 in (0, 2):
                x[i, 0, 4:24, a:a + 3] = 255
            if i % 3 in (1, 2):
                x[i, 0, b:b + 3, 4:24] = 255
        return Data(samples=x, spec=DataSpec(kind="image", channels=1, size=28, name=self.name))


class DigitsPlugin:
    @hookimpl
    def register_datasets(self, register):
        register(TinyDigits())


@pytest.fixture
def digits(plugins):
    plugins.add_plugin(DigitsPlugin(), "tiny-digits")
    return plugins


TINY_SETS = {"vanilla": {"hidden": "32"}, "dcgan": {"ngf": "8", "ndf": "8"},
             "wgan-gp": {"ngf": "8", "ndf": "8"}}


def opts(tmp_path, **kw):
    base = dict(model="vanilla", dataset="tiny-digits", steps=4, batch_size=8,
                out=str(tmp_path / "runs"), name="r", sample_every=4, checkpoint_every=0,
                log_every=1, grid=4, seed=1, device="cpu")
    base.update(kw)
    return TrainOptions(**base)


@pytest.mark.parametrize("model", ["vanilla", "dcgan", "wgan-gp"])
def test_the_three_models_train_on_tiny_digits(digits, tmp_path, model):
    t = prepare(opts(tmp_path, model=model), sets=TINY_SETS[model])
    before = {k: v.clone() for k, v in t.nets["G"].state_dict().items()}
    t.fit()
    assert t.loss.name == {"vanilla": "bce", "dcgan": "bce", "wgan-gp": "wgan-gp"}[model]
    lines = [json.loads(x) for x in (t.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    for key in ("loss_d", "loss_g"):
        vals = [r[key] for r in lines]
        assert all(v == v and abs(v) < 1e4 for v in vals)  # finite
        assert len(set(vals)) > 1, f"{key} never moved: {vals}"
    after = t.nets["G"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())

    m, config, spec, nets, c = load_model(t.run_dir)
    assert m.name == model and c.step == 4 and spec.shape == (1, 28, 28)
    with torch.no_grad():
        out = m.generate(nets, m.latent(config, 5, generator=torch.Generator().manual_seed(0)))
    assert tuple(out.shape) == (5, 1, 28, 28)
    assert out.min() >= -1 and out.max() <= 1 and out.std() > 0
    assert (t.run_dir / "samples" / "step-000004.png").exists()


def test_train_vanilla_with_wgan_gp_loss_from_the_cli(run_cli, tmp_path):
    res = run_cli("train", "vanilla", "--loss", "wgan-gp", "--steps", "3", "--batch-size", "16",
                  "--name", "w", "--quiet")
    assert res.exit_code == 0, res.stderr
    cfg = json.loads((tmp_path / "runs" / "w" / "config.json").read_text())
    assert cfg["loss"] == "wgan-gp" and cfg["data"]["name"] == "ring8"
    # ring8 suggests its learning rate (over the loss's 1e-4); the loss's betas stay
    assert cfg["options"]["lr"] == 5e-4 and cfg["options"]["betas"] == [0.0, 0.9]
    assert "decay_from" not in cfg["options"]["extra"]  # it goes with the suggested steps
    assert (tmp_path / "runs" / "w" / "checkpoints" / "step-0000003.safetensors").exists()


def test_exact_resume_with_the_gradient_penalty(tmp_path):
    """eps and dropout masks come from the checkpointed global RNG: 2+2 steps == 4 steps."""
    kw = dict(dataset="ring8", loss="wgan-gp", batch_size=16, grid=4, sample_every=0)
    a = prepare(opts(tmp_path, name="a", **kw))
    a.fit()
    b = prepare(opts(tmp_path, name="b", steps=2, checkpoint_every=2, **kw))
    b.fit()
    b = prepare(opts(tmp_path, name="b", steps=4, **kw), resume=str(b.run_dir),
                explicit={"steps"})
    assert b.step == 2
    b.fit()
    for net in ("G", "D"):
        sa, sb = a.nets[net].state_dict(), b.nets[net].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


# -- the vanilla model --------------------------------------------------------------------

VEC = DataSpec(kind="vector", dim=2, channels=0, size=0, name="ring8")
IMG = DataSpec(kind="image", channels=3, size=32, name="x")


def vanilla(plugins, **sets):
    m = plugins.models().get("vanilla")
    cfg = apply_sets(m.default_config(), {k: str(v) for k, v in sets.items()})
    return m, cfg


def linears(net):
    return [(l.in_features, l.out_features) for l in net.modules() if isinstance(l, nn.Linear)]


def test_textbook_defaults(plugins):
    m, cfg = vanilla(plugins)
    assert (cfg.z_dim, cfg.slope, cfg.prior) == (20, 0.01, "uniform")
    mnist = DataSpec(kind="image", channels=1, size=28, name="mnist")
    nets = m.build(cfg, mnist)
    assert linears(nets["G"]) == [(20, 100), (100, 784)]
    assert linears(nets["D"]) == [(784, 100), (100, 1)]
    assert [type(x) for x in nets["G"].net] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.Tanh]
    assert [type(x) for x in nets["D"].net] == [nn.Linear, nn.LeakyReLU, nn.Dropout, nn.Linear]
    assert nets["G"].net[1].negative_slope == 0.01 and nets["D"].net[2].p == 0.5
    z = m.latent(cfg, 1000)
    assert z.shape == (1000, 20) and z.min() >= -1 and z.max() <= 1 and z.min() < -0.9
    d = m.training_defaults()
    assert (d["loss"], d["lr"], d["dataset"]) == ("bce", 1e-3, "ring8")


def test_vector_defaults_are_the_papers_mlp(plugins):
    m, cfg = vanilla(plugins)
    nets = m.build(cfg, VEC)
    assert linears(nets["G"]) == [(20, 128), (128, 128), (128, 128), (128, 128), (128, 2)]
    assert linears(nets["D"]) == [(2, 128), (128, 128), (128, 128), (128, 128), (128, 1)]
    assert not any(isinstance(x, nn.Dropout) for x in nets["D"].modules())
    m, cfg = vanilla(plugins, hidden="100", dropout="0.5")  # the textbook's, on 2-D data
    nets = m.build(cfg, VEC)
    assert linears(nets["D"]) == [(2, 100), (100, 1)] and nets["D"].net[2].p == 0.5


def test_hidden_sets_depth_and_width(plugins):
    m, cfg = vanilla(plugins, hidden="256,256")
    assert cfg.hidden == (256, 256)
    nets = m.build(cfg, VEC)
    assert linears(nets["G"]) == [(20, 256), (256, 256), (256, 2)]
    assert linears(nets["D"]) == [(2, 256), (256, 256), (256, 1)]
    m, cfg = vanilla(plugins, hidden="64", d_hidden="32,16", dropout="0")
    nets = m.build(cfg, VEC)
    assert linears(nets["D"]) == [(2, 32), (32, 16), (16, 1)]
    assert not any(isinstance(x, nn.Dropout) for x in nets["D"].modules())


def test_images_are_flattened_and_reshaped(plugins):
    m, cfg = vanilla(plugins)
    nets = m.build(cfg, IMG)
    out = m.generate(nets, m.latent(cfg, 4))
    assert out.shape == (4, 3, 32, 32) and out.abs().max() <= 1
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    assert nets["D"](x).shape == (4,)
    assert torch.allclose(nets["D"].eval()(x), nets["D"](x.contiguous()))


def test_vector_output_is_linear_unless_asked(plugins):
    m, cfg = vanilla(plugins)
    assert isinstance(m.build(cfg, VEC)["G"].net[-1], nn.Linear)
    m, cfg = vanilla(plugins, output="tanh")
    assert isinstance(m.build(cfg, VEC)["G"].net[-1], nn.Tanh)
    m, cfg = vanilla(plugins, output="linear")
    assert isinstance(m.build(cfg, IMG)["G"].net[-1], nn.Linear)
    m, cfg = vanilla(plugins, prior="gaussian")
    assert m.latent(cfg, 2000).abs().max() > 1


@pytest.mark.parametrize("sets, msg", [
    ({"dropout": "1"}, "dropout"), ({"hidden": "64,0"}, "hidden"), ({"prior": "normal"}, "prior"),
    ({"output": "sigmoid"}, "output"), ({"z_dim": "0"}, "z_dim"),
])
def test_vanilla_rejects_bad_options(plugins, sets, msg):
    m, cfg = vanilla(plugins, **sets)
    with pytest.raises(GankitError, match=msg):
        m.check(cfg, VEC)


def test_decay_from_brings_the_learning_rate_to_zero(tmp_path):
    t = prepare(opts(tmp_path, dataset="ring8", steps=4, batch_size=16, sample_every=0,
                     extra={"decay_from": 2}))
    t.fit()
    assert all(g["lr"] == 0 for o in t.opts.values() for g in o.param_groups)


# -- the wgan-gp model ----------------------------------------------------------------------


def test_wgan_gp_critic_never_uses_batch_norm(plugins):
    m = plugins.models().get("wgan-gp")
    d = m.training_defaults()
    assert d["loss"] == "wgan-gp" and d["lr"] == 1e-4 and tuple(d["betas"]) == (0.0, 0.9)
    for norm, kind in (("layer", nn.GroupNorm), ("instance", nn.InstanceNorm2d), ("none", None)):
        cfg = apply_sets(m.default_config(), {"d_norm": norm, "ngf": "8", "ndf": "8"})
        m.check(cfg, IMG)
        nets = m.build(cfg, IMG, plugins.losses().get("wgan-gp"))
        mods = list(nets["D"].modules())
        assert not any(isinstance(x, nn.BatchNorm2d) for x in mods)
        if kind:
            assert any(isinstance(x, kind) for x in mods)
        assert nets["D"](torch.randn(2, 3, 32, 32)).shape == (2,)
        assert nets["G"](torch.randn(2, 100)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("spec, sets, msg", [
    (VEC, {}, "vanilla --loss wgan-gp"),
    (DataSpec(kind="image", channels=3, size=44, name="x"), {}, "--image-size 44.*40, 48"),
    (IMG, {"d_norm": "batch"}, "d_norm"),
])
def test_wgan_gp_rejects_what_it_cannot_build(plugins, spec, sets, msg):
    m = plugins.models().get("wgan-gp")
    with pytest.raises(GankitError, match=msg):
        m.check(apply_sets(m.default_config(), sets), spec)


def test_wgan_gp_model_refuses_ring8_from_the_cli(run_cli):
    res = run_cli("train", "wgan-gp", "--dataset", "ring8", "--steps", "1")
    assert res.exit_code == 1 and "vanilla --loss wgan-gp" in res.stderr
    assert "Traceback" not in res.stderr
