"""The divergence guard: non-finite losses or weights are noticed at the log interval
(no per-step host sync), the newest good checkpoint is restored with the learning
rate multiplied by ``trainer.LR_BACKOFF``, up to ``--max-retries`` times, then the run
stops with one clear line and a non-zero exit.

NaN is injected by a test plugin: a dcgan whose step poisons its loss or its weights
at chosen steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gankit import checkpoints as ckpt
from gankit import console, hookimpl
from gankit.cli import make_cli
from gankit.train import LR_BACKOFF, TrainOptions

from kit import prepare


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("nan-data")
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return d


@pytest.fixture
def nan_model(plugins):
    """Registers 'nan-dcgan'; returns it for the test to arm."""
    base = type(plugins.models().get("dcgan"))

    class NanDCGAN(base):
        name = "nan-dcgan"
        poison: set = set()       # steps (1-based) whose step goes non-finite
        once = True               # each poisoned step fires only once
        what = "loss"             # "loss" or "weights"
        scheduler = False         # add a constant LambdaLR (schedulers reset lr from base_lrs)
        seen: list = []           # every step number trained, in order
        fired: set = set()

        def schedulers(self, config, optimizers, options):
            if not self.scheduler:
                return {}
            return {k: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0)
                    for k, o in optimizers.items()}

        def train_step(self, t):
            out = super().train_step(t)
            step = t.step + 1
            self.seen.append(step)
            if step in self.poison and not (self.once and step in self.fired):
                self.fired.add(step)
                if self.what == "loss":
                    out["loss_d"] = out["loss_d"] * float("nan")
                else:
                    with torch.no_grad():
                        next(t.nets["G"].parameters()).fill_(float("inf"))
            return out

    model = NanDCGAN()
    model.seen, model.fired, model.poison = [], set(), set()

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(model)

    plugins.add_plugin(Plugin(), "nan-test")
    assert "nan-dcgan" in plugins.models()
    return model


def train(data, tmp_path, name="run", **kw):
    o = TrainOptions(model="nan-dcgan", data=str(data), image_size=32, batch_size=4,
                     out=str(tmp_path), name=name, sample_every=0, keep_last=0,
                     **{"steps": 12, "log_every": 4, "checkpoint_every": 4, **kw})
    console.set_quiet(True)
    return prepare(o, sets={"ngf": "8", "ndf": "8"}, explicit={"model", "lr"})


def all_finite(run):
    for p in ckpt.list_checkpoints(run):
        for t in ckpt.Checkpoint(p).tensors("s.nets.").values():
            if t.is_floating_point() and not torch.isfinite(t).all():
                return False
    return True


@pytest.mark.parametrize("scheduler", [False, True])
def test_restores_last_checkpoint_and_lowers_lr(nan_model, data, tmp_path, capsys, scheduler):
    nan_model.poison, nan_model.scheduler = {6}, scheduler
    t = train(data, tmp_path, lr=2e-4)
    assert t.fit() == "completed"
    # detected at the log step 8, not at step 6: steps 7 and 8 ran on; then steps 5.. again
    assert nan_model.seen == list(range(1, 9)) + list(range(5, 13))
    err = capsys.readouterr().err
    warns = [ln for ln in err.splitlines() if ln.startswith("Warning:")]
    assert warns == [f"Warning: non-finite values near step 8: restored step 4 and lowered the "
                     f"learning rate to {LR_BACKOFF:g}x (retry 1 of 3)"]
    final = ckpt.latest_loadable(tmp_path / "run")
    assert final.step == 12
    lrs = [g["lr"] for k in ("G", "D") for g in final.state()["opts"][k]["param_groups"]]
    assert lrs == [pytest.approx(2e-4 * LR_BACKOFF)] * 2
    assert all_finite(tmp_path / "run")
    steps = [json.loads(x)["step"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 8, 12]  # the poisoned window was dropped, nothing twice


def test_weights_poisoned_between_logs_are_never_checkpointed(nan_model, data, tmp_path, capsys):
    """Non-finite weights at step 5, checkpoint at 6, log at 10: the checkpoint step
    checks (it reads every tensor anyway) and restores instead of saving NaN."""
    nan_model.poison, nan_model.what = {5}, "weights"
    t = train(data, tmp_path, log_every=10, checkpoint_every=6)
    t.fit()
    assert "non-finite values near step 6: restored step 0" in capsys.readouterr().err
    assert all_finite(tmp_path / "run")
    assert ckpt.latest_loadable(tmp_path / "run").step == 12


def test_gives_up_after_max_retries_with_one_line(nan_model, data, tmp_path, monkeypatch):
    nan_model.poison, nan_model.once = set(range(3, 100)), False
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(make_cli(), [
        "-q", "train", "nan-dcgan", "--data", str(data), "--image-size", "32", "--set", "ngf=8",
        "--set", "ndf=8", "--batch-size", "4", "--steps", "12", "--log-every", "2",
        "--checkpoint-every", "2", "--sample-every", "0", "--max-retries", "2", "--name", "r"],
        catch_exceptions=False)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["Warning", "Warning", "Error"], lines
    assert "retry 1 of 2" in lines[0] and "to 0.25x (retry 2 of 2)" in lines[1]
    assert lines[2].startswith("Error: training diverged (non-finite loss or weights near step 4)")
    assert "--lr" in lines[2]
    # the last good checkpoint (step 2) is kept and loads
    good = ckpt.latest_loadable(tmp_path / "runs" / "r")
    assert good.step == 2 and all_finite(tmp_path / "runs" / "r")


def test_max_retries_zero_stops_at_once(nan_model, data, tmp_path, capsys):
    nan_model.poison = {2}
    t = train(data, tmp_path, max_retries=0)
    from gankit.errors import DivergenceError

    with pytest.raises(DivergenceError, match="near step 4"):
        t.fit()
    assert "Warning" not in capsys.readouterr().err


def test_no_per_step_host_sync(data, tmp_path, monkeypatch, plugins):
    """Reads of device values (.item/.tolist/bool/float/int) happen per log interval,
    not per step: 8 steps logged once cost as many as 16 steps logged once."""
    calls = []

    def counting(name):
        orig = getattr(torch.Tensor, name)

        def wrapper(self, *a, **k):
            calls.append(name)
            return orig(self, *a, **k)

        return wrapper

    def syncs(steps):
        t = prepare(TrainOptions(model="dcgan", data=str(data), image_size=32, batch_size=4,
                                 steps=steps, log_every=steps, checkpoint_every=0,
                                 sample_every=0, out=str(tmp_path), name=f"s{steps}"),
                    sets={"ngf": "8", "ndf": "8"}, explicit={"model"})
        with monkeypatch.context() as m:
            for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
                m.setattr(torch.Tensor, name, counting(name))
            calls.clear()
            t.fit()
        return list(calls)

    console.set_quiet(True)
    few, many = syncs(8), syncs(16)
    assert few == many, (few, many)
    assert few.count("tolist") == 1
