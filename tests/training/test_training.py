"""A tiny DCGAN end to end: run folder contents, checkpoints, samples, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gankit import checkpoints as ckpt
from gankit.train import TrainOptions

from kit import prepare


def tiny_options(tmp_path, **kw):
    base = dict(model="dcgan", image_size=32, batch_size=8, steps=6, out=str(tmp_path / "runs"),
                name="r", sample_every=3, checkpoint_every=3, log_every=2, grid=16, seed=3,
                device="cpu")
    base.update(kw)
    return TrainOptions(**base)


SETS = {"ngf": "8", "ndf": "8"}


def test_train_writes_a_complete_run(run_cli, tiny, tmp_path):
    res = run_cli("train", "dcgan", *tiny, "--steps", "6", "--sample-every", "3",
                  "--checkpoint-every", "3", "--log-every", "2", "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    run = tmp_path / "runs" / "r"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == "dcgan" and cfg["options"]["steps"] == 6
    assert cfg["model_config"]["ngf"] == 8
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 4, 6]
    assert all({"loss_d", "loss_g", "images_per_s", "wall_time"} <= set(r) for r in lines)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["losses.png",  # gankit_plots
                                                                 "step-000003.png",
                                                                 "step-000006.png"]
    from PIL import Image

    with Image.open(run / "samples" / "step-000006.png") as im:
        assert im.size == (8 * 32 + 9 * 2, 8 * 32 + 9 * 2)  # 64 samples, 8x8, padding 2
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step-0000003.safetensors",
                                                          "step-0000006.safetensors"]
    assert not list((run / "checkpoints").glob("*.tmp"))


def test_checkpoint_is_self_describing(tmp_path):
    t = prepare(tiny_options(tmp_path), sets=SETS)
    t.fit()
    c = ckpt.Checkpoint(ckpt.list_checkpoints(t.run_dir)[-1])
    assert c.model == "dcgan" and c.step == 6
    assert c.config["ngf"] == 8
    assert c.data == {"kind": "image", "channels": 3, "size": 32, "dim": 0, "name": "sushi"}
    state = c.state()
    assert set(state["nets"]) == {"G", "D"}
    for k, v in t.nets["G"].state_dict().items():
        assert torch.equal(state["nets"]["G"][k], v.cpu())
    # optimizer state round-trips: same keys and tensors
    opt_sd = t.opts["G"].state_dict()
    assert state["opts"]["G"]["param_groups"][0]["lr"] == opt_sd["param_groups"][0]["lr"]
    k0 = next(iter(opt_sd["state"]))
    assert torch.equal(state["opts"]["G"]["state"][k0]["exp_avg"], opt_sd["state"][k0]["exp_avg"])
    assert torch.equal(state["fixed_noise"], t.fixed_noise)


def test_keep_last_prunes_old_checkpoints(tmp_path):
    t = prepare(tiny_options(tmp_path, steps=8, checkpoint_every=1, keep_last=2), sets=SETS)
    t.fit()
    assert [p.name for p in ckpt.list_checkpoints(t.run_dir)] == ["step-0000007.safetensors",
                                                                "step-0000008.safetensors"]


def _weights(trainer):
    return {f"{n}.{k}": v.detach().clone() for n, net in trainer.nets.items()
            for k, v in net.state_dict().items()}


def _losses(run_dir: Path):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_resume_is_exact(tmp_path):
    straight = prepare(tiny_options(tmp_path, name="a", steps=6, checkpoint_every=100,
                                    log_every=1), sets=SETS)
    straight.fit()

    half = prepare(tiny_options(tmp_path, name="b", steps=3, checkpoint_every=100, log_every=1),
                   sets=SETS)
    half.fit()
    resumed = prepare(tiny_options(tmp_path, name="b", steps=6, log_every=1), sets=SETS,
                      explicit={"steps"}, resume=str(half.run_dir))
    assert resumed.step == 3
    resumed.fit()
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = [(r["step"], r["loss_d"], r["loss_g"]) for r in _losses(straight.run_dir)]
    lb = [(r["step"], r["loss_d"], r["loss_g"]) for r in _losses(resumed.run_dir)]
    assert la == lb


def test_resume_refuses_conflicting_flags(tmp_path):
    t = prepare(tiny_options(tmp_path, steps=2), sets=SETS)
    t.fit()
    from gankit import GankitError

    with pytest.raises(GankitError, match="--lr 0.01 .*--override"):
        prepare(tiny_options(tmp_path, lr=0.01), sets=SETS, explicit={"lr"},
                resume=str(t.run_dir))
    r = prepare(tiny_options(tmp_path, lr=0.01, steps=4), sets=SETS, explicit={"lr", "steps"},
                resume=str(t.run_dir), override=True)
    assert r.options.lr == 0.01


def test_ctrl_c_writes_checkpoint(tmp_path):
    import signal

    from gankit.train import Interrupted

    t = prepare(tiny_options(tmp_path, steps=50, checkpoint_every=100), sets=SETS)
    orig = t.model.train_step

    def step(tr):
        out = orig(tr)
        if tr.step == 3:  # the 4th step: Ctrl-C arrives
            tr._on_signal(signal.SIGINT, None)
        return out

    t.model.train_step = step
    try:
        with pytest.raises(Interrupted) as info:
            t.fit()
    finally:
        del t.model.train_step
    assert info.value.step == 4 and info.value.exit_code == 130
    assert ckpt.Checkpoint(ckpt.list_checkpoints(t.run_dir)[-1]).step == 4


def test_losses_move_and_samples_change(tmp_path):
    t = prepare(tiny_options(tmp_path, steps=10, log_every=1), sets=SETS)
    before, _ = t.preview()
    t.fit()
    after, _ = t.preview()
    lines = _losses(t.run_dir)
    assert len({r["loss_d"] for r in lines}) > 1
    assert not torch.equal(before, after)


def test_epochs_sets_steps(tmp_path):
    t = prepare(tiny_options(tmp_path, steps=None, epochs=0.5), sets=SETS)
    assert t.total_steps == 16  # 256 sushi images / batch 8 / 2


def test_batch_size_larger_than_data_is_clamped(tmp_path, capsys):
    from gankit.datasets import Data, DataSpec

    t = prepare(tiny_options(tmp_path, batch_size=1000, steps=1), sets=SETS)
    assert t.batch_size == 256
    assert "--batch-size 1000 is larger than the data set (256 samples)" in capsys.readouterr().err
    assert isinstance(t.data, Data) and isinstance(t.spec, DataSpec)


def test_loss_sums_track_keys_and_non_finite_values():
    from gankit.train.logbook import LossSums as _LossSums

    s = _LossSums(torch.device("cpu"))
    s.add({})  # a step without losses adds nothing
    s.add({"loss_d": torch.tensor(1.0), "loss_g": torch.tensor(2.0, dtype=torch.bfloat16)})
    s.add({"loss_d": torch.tensor(3.0), "loss_g": torch.tensor(4.0)})
    assert s.keys == ("loss_d", "loss_g") and s.values().tolist() == [4.0, 6.0]
    s.add({"loss_g": torch.tensor(1.0), "extra": torch.tensor(5.0)})  # other keys: merged
    assert s.keys == ("loss_d", "loss_g", "extra") and s.values().tolist() == [4.0, 7.0, 5.0]
    assert not bool(s.non_finite())
    s.add({"loss_d": torch.tensor(float("inf")), "loss_g": torch.tensor(0.0),
           "extra": torch.tensor(0.0)})
    assert bool(s.non_finite())
    t = _LossSums(torch.device("cpu"))
    t.add({"loss_d": torch.tensor(float("nan"))})
    t.add({"loss_d": torch.tensor(1.0)})
    assert bool(t.non_finite())  # a NaN early in the interval is not washed out


def test_requires_grad_toggles_a_networks_weights(tmp_path):
    from gankit.train import TrainOptions
    from kit import prepare

    t = prepare(TrainOptions(model="dcgan", image_size=32, batch_size=2, steps=1, device="cpu",
                             out=str(tmp_path), name="t", sample_every=0),
                sets={"ngf": "8", "ndf": "8"})
    t.requires_grad("D", False)
    assert not any(p.requires_grad for p in t.nets["D"].parameters())
    assert all(p.requires_grad for p in t.nets["G"].parameters())
    t.requires_grad(("D", "G"), True)
    assert all(p.requires_grad for n in ("D", "G") for p in t.nets[n].parameters())
    t.fit()  # the built-in step leaves D trainable after its G step
    assert all(p.requires_grad for p in t.nets["D"].parameters())


def _write_mnist(root, n=16):
    import struct

    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    pixels = (np.arange(n * 28 * 28) % 251).astype(np.uint8)
    (root / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 2051, n, 28, 28) + pixels.tobytes())
    return root


@pytest.mark.parametrize("dataset, flips", [("mnist", False), ("fashion-mnist", True)])
def test_digits_are_never_flipped(tmp_path, dataset, flips):
    """A mirrored digit is not a digit: MNIST says so (Dataset.flip) and the batcher obeys,
    while Fashion-MNIST (left-right symmetric clothes) keeps the random flips."""
    sub = "FashionMNIST" if dataset == "fashion-mnist" else "MNIST"
    root = tmp_path / "data"
    _write_mnist(root / sub / "raw")
    t = prepare(TrainOptions(model="dcgan", dataset=dataset, data=str(root), image_size=28,
                             batch_size=8, steps=1, device="cpu", out=str(tmp_path), name="m",
                             sample_every=0), sets=SETS)
    assert t.batcher.flip is flips
    assert t.plugins.datasets().get(dataset).describe()["flip"] is flips  # list-datasets --json
    a, b = t.batcher.next(), t.batcher.next()
    # the IDX pixels are not left-right symmetric: any flip would show in a batch
    rows = {tuple(x.flatten().tolist()) for x in t.data.samples}
    got = [tuple(x.add(1).mul(127.5).round().to(torch.uint8).flatten().tolist())
           for x in torch.cat([a, b])]
    assert all(g in rows for g in got) is (not flips)
