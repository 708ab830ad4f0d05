"""CycleGAN: two unpaired folders, the loss terms, the image pool, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gankit import checkpoints as ckpt

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=2",
        "--batch-size", "2", "--sample-every", "0", "--log-every", "2", "--quiet"]


def draw_domain(folder, n, kind, size=40, seed=0):
    """Domain A: red discs on blue; domain B: green squares on yellow."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, ord(kind)])
    for i in range(n):
        img = Image.new("RGB", (size, size), (20, 30, 120) if kind == "A" else (230, 210, 60))
        d = ImageDraw.Draw(img)
        x, y = (int(v) for v in rng.integers(2, size - 16, 2))
        if kind == "A":
            d.ellipse([x, y, x + 13, y + 13], fill=(240, 40, 40))
        else:
            d.rectangle([x, y, x + 12, y + 12], fill=(40, 160, 40))
        img.save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def domains(tmp_path):
    return (draw_domain(tmp_path / "photos", 6, "A"), draw_domain(tmp_path / "paintings", 5, "B"))


# -- training end to end ---------------------------------------------------------------------


def test_trains_on_two_unpaired_folders(run_cli, domains, tmp_path):
    a, b = domains
    res = run_cli("train", "cyclegan", "--data", a, "--data-b", b, *TINY, "--steps", "4",
                  "--sample-every", "2", "--checkpoint-every", "2", "--name", "r")
    assert res.exit_code == 0, res.stderr
    run = tmp_path / "runs" / "r"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["loss"] == "lsgan" and cfg["options"]["image_size"] == 32
    assert cfg["data"]["name"] == "photos -> paintings" and cfg["data"]["size"] == 32
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 4]
    keys = {"loss_d_a", "loss_d_b", "loss_g_ab", "loss_g_ba", "loss_cycle", "loss_idt"}
    assert keys <= set(lines[0])
    assert all(np.isfinite(v) for r in lines for v in r.values())

    c = ckpt.Checkpoint(ckpt.list_checkpoints(run)[-1])
    assert c.model == "cyclegan" and c.step == 4
    s = c.state()
    assert set(s["nets"]) == set(s["opts"]) == set(s["scheds"]) == {"G_AB", "G_BA", "D_A", "D_B"}
    # 4 steps x batch 2: 8 generated images per domain went into the pools
    assert s["extra"]["pool_a"]["images"].shape == (8, 3, 32, 32)
    assert s["extra"]["pool_b"]["images"].shape == (8, 3, 32, 32)
    assert "batcher_b" in s

    # previews: rows A | A->B | A->B->A (4 rows) then B | B->A | B->A->B (4 rows)
    with Image.open(run / "samples" / "step-000004.png") as im:
        assert im.size == (3 * 32 + 4 * 2, 8 * 32 + 9 * 2)
        grid = np.asarray(im.convert("RGB"))
    first_a = grid[2:34, 2:34].astype(int)  # centre crop of the first A image (bluish)
    first_b = grid[2 + 4 * 34:34 + 4 * 34, 2:34].astype(int)  # the first B image (yellow)
    assert first_a[..., 2].mean() > first_a[..., 1].mean()
    assert first_b[..., 0].mean() > first_b[..., 2].mean()


def test_root_with_train_and_test_folders(run_cli, tmp_path):
    root = tmp_path / "monet2photo"
    draw_domain(root / "trainA", 4, "A")
    draw_domain(root / "trainB", 4, "B")
    for sub, colour in (("testA", (200, 0, 200)), ("testB", (0, 200, 200))):
        (root / sub).mkdir()
        for i in range(2):
            Image.new("RGB", (50, 50), colour).save(root / sub / f"t{i}.png")
    res = run_cli("train", "cyclegan", "--data", root, *TINY, "--steps", "1",
                  "--sample-every", "1", "--name", "r")
    assert res.exit_code == 0, res.stderr
    run = tmp_path / "runs" / "r"
    assert json.loads((run / "config.json").read_text())["data"]["name"] == \
        "monet2photo/trainA -> monet2photo/trainB"
    with Image.open(run / "samples" / "step-000001.png") as im:
        grid = np.asarray(im.convert("RGB")).astype(int)
    assert grid.shape[0] == 4 * 32 + 5 * 2  # 2 test images per domain
    assert np.abs(grid[2:34, 2:34] - [200, 0, 200]).max() <= 1          # testA, not trainA
    assert np.abs(grid[2 + 2 * 34:34 + 2 * 34, 2:34] - [0, 200, 200]).max() <= 1  # testB


def test_one_folder_without_trainA_is_a_clear_error(run_cli, domains):
    a, _ = domains
    res = run_cli("train", "cyclegan", "--data", a, *TINY, "--steps", "1")
    assert res.exit_code == 2
    assert "trainA/ and trainB/" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", "cyclegan", "--data", a, "--data-b", "nowhere", *TINY, "--steps", "1")
    assert res.exit_code == 1 and "--data-b nowhere: no such folder" in res.stderr


def test_sizes_and_generators(plugins):
    from gankit import DataSpec, GankitError
    from gankit.config import apply_sets

    model = plugins.models().get("cyclegan")
    cfg = model.default_config()
    assert (cfg.lambda_cycle, cfg.lambda_identity, cfg.pool_size, cfg.norm) == (10.0, 0.5, 50,
                                                                                "instance")
    assert model.training_defaults()["loss"] == "lsgan"
    assert model.blocks(cfg, 128) == 6 and model.blocks(cfg, 256) == 9
    for bad in (30, 28, 16):
        with pytest.raises(GankitError, match="--image-size"):
            model.check(cfg, DataSpec(size=bad))
    unet = apply_sets(cfg, {"generator": "unet", "ngf": "4", "ndf": "4"})
    with pytest.raises(GankitError, match="multiple of 32"):
        model.check(unet, DataSpec(size=48))
    model.check(unet, DataSpec(size=64))
    torch.manual_seed(0)
    nets = model.build(unet, DataSpec(size=64))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = nets["G_AB"](x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert nets["D_A"](x).shape == (2, 1, 6, 6)  # 70x70 PatchGAN: one score per patch
    assert model.size_multiple(unet, DataSpec(size=64)) == 64
    assert model.size_multiple(cfg, DataSpec(size=64)) == 4
    # the resnet generator is fully convolutional: any multiple of 4
    res = model.build(apply_sets(cfg, {"ngf": "4", "n_blocks": "1"}), DataSpec(size=32))
    assert res["G_BA"](torch.zeros(1, 3, 20, 36)).shape == (1, 3, 20, 36)


# -- the loss terms -----------------------------------------------------------------------------


class Affine(torch.nn.Module):
    def __init__(self, scale, shift):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return x * self.scale + self.shift


class ChannelMean(torch.nn.Module):
    def forward(self, x):
        return x.mean(1, keepdim=True)


@pytest.mark.parametrize("loss_name", ["lsgan", "bce"])
def test_cycle_and_identity_terms_by_hand(plugins, loss_name):
    from gankit_cyclegan.train import generator_losses

    loss = plugins.losses().get(loss_name)
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    b = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    nets = {"G_AB": Affine(0.5, 0.0), "G_BA": Affine(1.0, 0.25), "D_A": ChannelMean(),
            "D_B": ChannelMean()}
    t = generator_losses(nets, a, b, loss, lambda_cycle=10.0, lambda_identity=0.5)

    A, B = a.double().numpy(), b.double().numpy()
    # cycle: G_BA(G_AB(a)) = 0.5 a + 0.25; G_AB(G_BA(b)) = 0.5 (b + 0.25)
    assert t["cycle_a"].item() == pytest.approx(10 * np.abs(0.5 * A + 0.25 - A).mean(), rel=1e-6)
    assert t["cycle_b"].item() == pytest.approx(10 * np.abs(0.5 * (B + 0.25) - B).mean(), rel=1e-6)
    # identity: weight 10 * 0.5; G_BA(a) - a = 0.25 everywhere; G_AB(b) - b = -0.5 b
    assert t["idt_a"].item() == pytest.approx(5 * 0.25, rel=1e-6)
    assert t["idt_b"].item() == pytest.approx(5 * np.abs(0.5 * B).mean(), rel=1e-6)
    # adversarial: D_B scores G_AB(a), D_A scores G_BA(b)
    sb, sa = (0.5 * A).mean(1), (B + 0.25).mean(1)
    if loss_name == "lsgan":  # Zhu et al.: MSE against 1
        adv_ab, adv_ba = ((sb - 1) ** 2).mean(), ((sa - 1) ** 2).mean()
    else:  # non-saturating BCE: softplus(-score)
        adv_ab, adv_ba = np.log1p(np.exp(-sb)).mean(), np.log1p(np.exp(-sa)).mean()
    assert t["adv_ab"].item() == pytest.approx(adv_ab, rel=1e-5)
    assert t["adv_ba"].item() == pytest.approx(adv_ba, rel=1e-5)
    total = sum(t[k].item() for k in ("adv_ab", "adv_ba", "cycle_a", "cycle_b", "idt_a", "idt_b"))
    assert t["total"].item() == pytest.approx(total, rel=1e-6)
    assert torch.allclose(t["fake_b"], 0.5 * a) and torch.allclose(t["fake_a"], b + 0.25)

    off = generator_losses(nets, a, b, loss, lambda_cycle=2.0, lambda_identity=0.0)
    assert off["idt_a"].item() == off["idt_b"].item() == 0.0
    assert off["cycle_a"].item() == pytest.approx(t["cycle_a"].item() / 5, rel=1e-6)


# -- the image pool ---------------------------------------------------------------------------


def test_image_pool_stores_50_then_swaps_half():
    from gankit_cyclegan.train import ImagePool

    pool = ImagePool(50, torch.Generator().manual_seed(0))
    for start in range(0, 50, 5):  # the first 50 images are stored and returned as they are
        batch = torch.arange(start, start + 5, dtype=torch.float32).view(5, 1, 1, 1)
        assert torch.equal(pool.query(batch), batch)
    assert sorted(float(x) for x in pool.images) == list(range(50))

    from_pool = 0
    for j in range(400):
        before = {float(x) for x in pool.images}
        new = 1000.0 + j
        got = float(pool.query(torch.full((1, 1, 1, 1), new)))
        after = {float(x) for x in pool.images}
        assert len(pool.images) == 50
        if got == new:  # returned as it is: the pool is unchanged
            assert after == before
        else:  # swapped: an old image comes out, the new one takes its place
            from_pool += 1
            assert got in before and got not in after and after == before - {got} | {new}
    assert 150 < from_pool < 250  # about half of 400

    # state round trip: a restored pool continues exactly like the original
    gen2 = torch.Generator()
    gen2.set_state(pool.gen.get_state())
    clone = ImagePool(50, gen2)
    clone.load_state_dict(pool.state_dict(), "cpu")
    for j in range(20):
        x = torch.full((2, 1, 1, 1), 5000.0 + j)
        assert torch.equal(pool.query(x), clone.query(x))

    nopool = ImagePool(0, torch.Generator())
    x = torch.rand(3, 1, 2, 2)
    assert nopool.query(x) is x


def test_random_crop_is_seeded_and_in_bounds():
    from gankit_cyclegan.train import random_crop

    x = torch.arange(2 * 3 * 9 * 9, dtype=torch.float32).view(2, 3, 9, 9)
    g = torch.Generator().manual_seed(5)
    ref = torch.Generator()
    ref.set_state(g.get_state())
    out = random_crop(x, 6, g)
    oy = torch.randint(0, 4, (2,), generator=ref)
    ox = torch.randint(0, 4, (2,), generator=ref)
    assert out.shape == (2, 3, 6, 6)
    for i in range(2):
        assert torch.equal(out[i], x[i, :, oy[i]:oy[i] + 6, ox[i]:ox[i] + 6])


def test_lr_constant_then_linear_to_zero(plugins):
    from gankit import TrainOptions, UsageError

    model = plugins.models().get("cyclegan")
    nets = {"G": torch.nn.Linear(1, 1)}
    opts = {"G": torch.optim.Adam(nets["G"].parameters(), lr=2e-4)}
    sch = model.schedulers(None, opts, TrainOptions(steps=8))["G"]  # decay from step 4
    lrs = []
    for _ in range(8):
        lrs.append(opts["G"].param_groups[0]["lr"])
        opts["G"].step()
        sch.step()
    assert lrs == pytest.approx([2e-4] * 5 + [1.5e-4, 1e-4, 0.5e-4])
    assert opts["G"].param_groups[0]["lr"] == 0.0
    opts = {"G": torch.optim.Adam(nets["G"].parameters(), lr=1.0)}
    sch = model.schedulers(None, opts, TrainOptions(steps=10, extra={"decay_from": 6}))["G"]
    seen = []
    for _ in range(10):
        seen.append(opts["G"].param_groups[0]["lr"])
        opts["G"].step()
        sch.step()
    assert seen == pytest.approx([1.0] * 7 + [0.75, 0.5, 0.25])
    with pytest.raises(UsageError, match="--decay-from 11"):
        model.schedulers(None, opts, TrainOptions(steps=10, extra={"decay_from": 11}))


# -- resume -------------------------------------------------------------------------------------


def test_resume_continues_bit_for_bit(run_cli, domains, tmp_path):
    a, b = domains
    common = ["train", "cyclegan", "--data", a, "--data-b", b, *TINY, "--set", "pool_size=3",
              "--decay-from", "3", "--checkpoint-every", "100"]
    assert run_cli(*common, "--steps", "6", "--name", "straight").exit_code == 0
    assert run_cli(*common, "--steps", "3", "--name", "half").exit_code == 0
    res = run_cli("train", "--resume", tmp_path / "runs" / "half", "--steps", "6", "--quiet")
    assert res.exit_code == 0, res.stderr
    straight = ckpt.Checkpoint(ckpt.list_checkpoints(tmp_path / "runs" / "straight")[-1])
    resumed = ckpt.Checkpoint(ckpt.list_checkpoints(tmp_path / "runs" / "half")[-1])
    assert straight.step == resumed.step == 6
    x, y = straight.tensors(), resumed.tensors()
    assert x.keys() == y.keys()
    # the pools filled (3 images) and swapped; the crop and pool generators advanced
    assert x["s.extra.pool_a.images"].shape[0] == 3
    assert {"s.extra.crop_gen", "s.extra.pool_gen"} <= set(x)
    different = [k for k in x if not torch.equal(x[k], y[k])]
    assert different == []


def test_domains_keep_their_data_sets_flip_choice(tmp_path):
    """The domains load through gankit.load_data, so a data set that forbids flips
    (MNIST) is not flipped here either."""
    import struct

    from gankit.train import TrainOptions
    from kit import prepare

    roots = []
    for k in "ab":
        root = tmp_path / k
        root.mkdir()
        pixels = (np.arange(6 * 28 * 28) % 251).astype(np.uint8)
        (root / "train-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, 6, 28, 28) + pixels.tobytes())
        roots.append(str(root))
    t = prepare(TrainOptions(model="cyclegan", dataset="mnist", data=roots[0], data_b=roots[1],
                             image_size=32, batch_size=1, steps=1, device="cpu",
                             out=str(tmp_path), name="c", sample_every=0),
                sets={"ngf": "8", "ndf": "8", "n_blocks": "1"})
    assert t.batcher.flip is False and t.batcher_b.flip is False
