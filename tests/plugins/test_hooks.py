"""Every hook is called as docs/plugins.md documents it.

A recording test plugin, added with ``plugins.add_plugin(obj, name)``, registers a tiny
MLP model, a data set of random images and a loss, adds a command, and records every
observer call of one ``gankit train`` run (4 steps; log, samples and checkpoints every 2).
Each ``test_hook_<name>`` checks the arguments one hook got (test_public_api.py requires a
test of that name for every hook in gankit/hookspecs.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

import gankit.testing as gt
from gankit import Data, Dataset, DataSpec, GankitError, Loss, UnconditionalGAN, hookimpl

RUN_ARGS = ["train", "hooktest-mlp", "--dataset", "hooktest-noise", "--loss", "hooktest-ls",
            "--steps", "4", "--batch-size", "4", "--log-every", "2", "--sample-every", "2",
            "--checkpoint-every", "2", "--keep-last", "0", "--grid", "4", "--no-flip"]


class TinyMLP(UnconditionalGAN):
    name = "hooktest-mlp"
    summary = "a tiny MLP GAN for the hook tests"
    defaults = {"image_size": 8, "batch_size": 4, "loss": "hooktest-ls",
                "dataset": "hooktest-noise"}

    def z_dim(self, config):
        return 4

    def build(self, config, spec, loss=None):
        from torch import nn

        n = spec.channels * spec.size * spec.size
        return {"G": nn.Sequential(nn.Linear(4, n), nn.Tanh(),
                                   nn.Unflatten(1, (spec.channels, spec.size, spec.size))),
                "D": nn.Sequential(nn.Flatten(), nn.Linear(n, 1))}


class FailingMLP(TinyMLP):
    name = "hooktest-failing"

    def train_step(self, t):
        if t.step >= 1:
            raise RuntimeError("step two is broken")
        return super().train_step(t)


class Noise(Dataset):
    name = "hooktest-noise"
    summary = "16 random 8x8 gray images"
    default_size = 8

    def load(self, options):
        import torch

        g = torch.Generator().manual_seed(options.seed)
        size = options.image_size or 8
        samples = torch.randint(0, 256, (16, 1, size, size), generator=g, dtype=torch.uint8)
        return Data(samples=samples, spec=DataSpec("image", 1, size, name=self.name))


class HalfSquares(Loss):
    name = "hooktest-ls"
    summary = "least squares"

    def d_loss(self, real_scores, fake_scores):
        return ((real_scores - 1) ** 2).mean() + (fake_scores ** 2).mean()

    def g_loss(self, fake_scores):
        return ((fake_scores - 1) ** 2).mean()


class Recorder:
    """Records (hook name, what it got) for every call."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def names(self):
        return [name for name, _ in self.calls]

    def of(self, hook):
        return [kw for name, kw in self.calls if name == hook]

    @hookimpl
    def register_models(self, register):
        self.calls.append(("register_models", {"register": register}))
        register(TinyMLP(), aliases=("hooktest-alias",))
        register(FailingMLP())

    @hookimpl
    def register_datasets(self, register):
        self.calls.append(("register_datasets", {"register": register}))
        register(Noise(), aliases=("hooktest-random",))

    @hookimpl
    def register_losses(self, register):
        self.calls.append(("register_losses", {"register": register}))
        register(HalfSquares(), aliases=("hooktest-squares",))

    @hookimpl
    def register_commands(self, cli):
        self.calls.append(("register_commands", {"cli": cli}))

        @cli.command("hooktest-hello")
        @click.option("--name", default="world")
        def hello(name):
            """Say hello from a plugin."""
            click.echo(f"hello {name} from a plugin")

    @hookimpl
    def on_train_start(self, trainer):
        self.calls.append(("on_train_start", {
            "trainer": trainer, "step": trainer.step, "nets": sorted(trainer.nets),
            "run_dir_exists": trainer.run_dir.is_dir()}))

    @hookimpl
    def on_step_end(self, trainer, step, losses):
        self.calls.append(("on_step_end", {"trainer": trainer, "step": step, "losses": losses,
                                           "trainer_step": trainer.step}))

    @hookimpl
    def on_log(self, trainer, step, metrics):
        lines = (trainer.run_dir / "metrics.jsonl").read_text().splitlines()
        self.calls.append(("on_log", {"trainer": trainer, "step": step, "metrics": metrics,
                                      "last_line": json.loads(lines[-1])}))

    @hookimpl
    def on_samples(self, trainer, step, images, path):
        self.calls.append(("on_samples", {"trainer": trainer, "step": step, "images": images,
                                          "path": path, "exists": Path(path).is_file()}))

    @hookimpl
    def on_checkpoint(self, trainer, step, path, metadata):
        self.calls.append(("on_checkpoint", {"trainer": trainer, "step": step, "path": path,
                                             "metadata": metadata,
                                             "exists": Path(path).is_file()}))

    @hookimpl
    def on_train_end(self, trainer, status):
        self.calls.append(("on_train_end", {"trainer": trainer, "status": status,
                                            "error": trainer.error}))


def _plugins_with(recorder, name="recorder"):
    p = gt.builtin_plugins()
    rec = p.add_plugin(recorder, name)
    assert rec.error is None
    return p


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny `gankit train` run with the recorder plugin added."""
    out = tmp_path_factory.mktemp("hooks")
    recorder = Recorder()
    p = _plugins_with(recorder)
    result = gt.run_cli([*RUN_ARGS, "--out", out, "--name", "r"], plugins=p)
    assert result.exit_code == 0, result.output
    return recorder, p, out / "r"


def _json_cli(args, p):
    result = gt.run_cli(args, plugins=p)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_hook_register_models(run):
    recorder, p, run_dir = run
    calls = recorder.of("register_models")
    assert len(calls) == 1 and callable(calls[0]["register"])  # once per manager
    models = {m["name"]: m for m in _json_cli(["list-models", "--json"], p)}
    assert models["hooktest-mlp"]["plugin"] == "recorder"
    assert models["hooktest-mlp"]["aliases"] == ["hooktest-alias"]
    assert p.models().get("hooktest-alias").name == "hooktest-mlp"
    assert json.loads((run_dir / "config.json").read_text())["model"] == "hooktest-mlp"


def test_hook_register_datasets(run):
    recorder, p, run_dir = run
    assert len(recorder.of("register_datasets")) == 1
    datasets = {d["name"]: d for d in _json_cli(["list-datasets", "--json"], p)}
    assert datasets["hooktest-noise"]["plugin"] == "recorder"
    assert p.datasets().get("hooktest-random").name == "hooktest-noise"
    data = json.loads((run_dir / "config.json").read_text())["data"]
    assert (data["name"], data["channels"], data["size"]) == ("hooktest-noise", 1, 8)


def test_hook_register_losses(run):
    recorder, p, run_dir = run
    assert len(recorder.of("register_losses")) == 1
    losses = {x["name"]: x for x in _json_cli(["list-losses", "--json"], p)}
    assert losses["hooktest-ls"]["plugin"] == "recorder"
    assert p.losses().get("hooktest-squares").name == "hooktest-ls"
    assert json.loads((run_dir / "config.json").read_text())["loss"] == "hooktest-ls"


def test_hook_register_commands(run):
    recorder, p, _ = run
    calls = recorder.of("register_commands")
    assert calls and all(isinstance(c["cli"], click.Group) for c in calls)
    result = gt.run_cli(["hooktest-hello", "--name", "gankit"], plugins=p)
    assert result.exit_code == 0 and result.stdout == "hello gankit from a plugin\n"
    assert "hooktest-hello" in gt.run_cli(["--help"], plugins=p).stdout


def test_hook_on_train_start(run):
    recorder, _, run_dir = run
    calls = recorder.of("on_train_start")
    assert len(calls) == 1
    observers = [n for n in recorder.names() if n.startswith("on_")]
    assert observers[0] == "on_train_start"
    c = calls[0]
    assert c["step"] == 0 and c["nets"] == ["D", "G"] and c["run_dir_exists"]
    assert c["trainer"].run_dir == run_dir and c["trainer"].model.name == "hooktest-mlp"


def test_hook_on_train_start_can_refuse_the_run(tmp_path):
    class Refuser:
        @hookimpl
        def on_train_start(self, trainer):
            raise GankitError("not on this data")

    p = _plugins_with(Recorder())
    p.add_plugin(Refuser(), "refuser")
    result = gt.run_cli([*RUN_ARGS, "--out", tmp_path, "--name", "r"], plugins=p)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: plugin 'refuser' refused the run: not on this data")
    assert not list((tmp_path / "r" / "checkpoints").glob("*.safetensors"))


def test_hook_on_step_end(run):
    recorder, _, _ = run
    calls = recorder.of("on_step_end")
    assert [c["step"] for c in calls] == [1, 2, 3, 4]
    assert all(c["trainer_step"] == c["step"] for c in calls)
    for c in calls:
        assert set(c["losses"]) == {"loss_d", "loss_g"}
        for v in c["losses"].values():  # detached scalar tensors on the run's device
            assert v.dim() == 0 and not v.requires_grad
            assert v.device == c["trainer"].device


def test_hook_on_log(run):
    recorder, _, _ = run
    calls = recorder.of("on_log")
    assert [c["step"] for c in calls] == [2, 4]
    for c in calls:
        m = c["metrics"]
        assert set(m) == {"loss_d", "loss_g", "images_per_s", "wall_time", "elapsed_s"}
        assert all(type(v) is float for v in m.values())
        assert c["last_line"]["step"] == c["step"]  # metrics.jsonl got its line first
        assert c["last_line"]["loss_d"] == pytest.approx(m["loss_d"], abs=1e-5)


def test_hook_on_samples(run):
    recorder, _, run_dir = run
    calls = recorder.of("on_samples")
    assert [c["step"] for c in calls] == [2, 4]
    for c in calls:
        images = c["images"]
        assert images.dtype.is_floating_point is False and str(images.dtype) == "torch.uint8"
        assert tuple(images.shape) == (4, 1, 8, 8) and images.device.type == "cpu"
        assert c["exists"] and Path(c["path"]) == run_dir / "samples" / f"step-{c['step']:06d}.png"


def test_hook_on_checkpoint(run):
    recorder, _, run_dir = run
    calls = recorder.of("on_checkpoint")
    assert [c["step"] for c in calls] == [2, 4]
    for c in calls:
        assert c["exists"] and Path(c["path"]).suffix == ".safetensors"
        assert Path(c["path"]).parent == run_dir / "checkpoints"
        meta = c["metadata"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
        assert meta["gankit.model"] == "hooktest-mlp" and meta["gankit.step"] == str(c["step"])
        assert meta["gankit.plugin"] == "recorder"


def test_hook_on_train_end(run):
    recorder, _, _ = run
    calls = recorder.of("on_train_end")
    assert len(calls) == 1 and calls[0]["status"] == "completed" and calls[0]["error"] is None
    observers = [n for n in recorder.names() if n.startswith("on_")]
    assert observers == ["on_train_start",
                         "on_step_end", "on_step_end", "on_log", "on_samples", "on_checkpoint",
                         "on_step_end", "on_step_end", "on_log", "on_samples", "on_checkpoint",
                         "on_train_end"]


def test_hook_on_train_end_reports_a_failed_run(tmp_path):
    recorder = Recorder()
    p = _plugins_with(recorder)
    args = [a if a != "hooktest-mlp" else "hooktest-failing" for a in RUN_ARGS]
    result = gt.run_cli([*args, "--out", tmp_path, "--name", "r"], plugins=p)
    assert result.exit_code == 1
    assert "step two is broken" in result.stderr
    (end,) = recorder.of("on_train_end")
    assert end["status"] == "failed" and isinstance(end["error"], RuntimeError)
    assert [c["step"] for c in recorder.of("on_step_end")] == [1]
