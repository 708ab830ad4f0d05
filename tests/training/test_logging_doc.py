"""The W&B plugin of docs/logging.md, copied out of the doc, works with gankit's hooks.

A stand-in ``wandb`` module records the calls, so the test needs neither the package nor
an account; a real run would make the same calls.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

from kit import ROOT

DOC = ROOT / "docs" / "logging.md"


def _doc_plugin(tmp_path):
    blocks = re.findall(r"```python\n(# gankit_wandb/__init__.py\n.*?)```", DOC.read_text(),
                        re.S)
    assert len(blocks) == 1, "docs/logging.md lost its gankit_wandb example"
    path = tmp_path / "gankit_wandb_doc.py"
    path.write_text(blocks[0])
    spec = importlib.util.spec_from_file_location("gankit_wandb_doc", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class FakeRun:
    def __init__(self, **kwargs):
        self.kwargs, self.logged, self.summary, self.metrics = kwargs, [], {}, []
        self.exit_code = None

    def define_metric(self, name, step_metric=None):
        self.metrics.append((name, step_metric))

    def log(self, data):
        self.logged.append(data)

    def finish(self, exit_code=0):
        self.exit_code = exit_code


@pytest.fixture
def fake_wandb(monkeypatch):
    runs = []
    mod = types.ModuleType("wandb")
    mod.init = lambda **kw: runs.append(FakeRun(**kw)) or runs[-1]
    mod.Image = lambda array: ("image", array.shape, str(array.dtype))
    monkeypatch.setitem(sys.modules, "wandb", mod)
    return runs


def test_doc_wandb_plugin_logs_a_run(run_cli, tiny, plugins, fake_wandb, tmp_path, monkeypatch):
    plugins.add_plugin(_doc_plugin(tmp_path), "wandb")
    monkeypatch.setenv("GANKIT_LOG", "wandb")
    res = run_cli("train", "dcgan", *tiny, "--steps", "4", "--log-every", "2",
                  "--sample-every", "4", "--checkpoint-every", "2", "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    assert "Warning" not in res.stderr, res.stderr  # no hook of the example raised
    (run,) = fake_wandb
    assert (run.kwargs["name"], run.kwargs["id"], run.kwargs["resume"]) == ("r", "r", "allow")
    assert run.kwargs["config"]["model"] == "dcgan"
    scalars = [d for d in run.logged if "train/loss_d" in d]
    assert [d["train/step"] for d in scalars] == [2, 4]
    assert {"train/loss_g", "train/images_per_s", "train/elapsed_s"} <= set(scalars[0])
    (img,) = [d for d in run.logged if "samples" in d]
    assert img["train/step"] == 4 and img["samples"] == ("image", (274, 274, 3), "uint8")
    assert run.summary == {"checkpoint": str(Path("runs/r/checkpoints/step-0000004.safetensors")),
                           "checkpoint_step": 4, "status": "completed"}
    assert run.exit_code == 0


def test_doc_wandb_plugin_stays_off_unless_asked(run_cli, tiny, plugins, fake_wandb, tmp_path,
                                                 monkeypatch):
    plugins.add_plugin(_doc_plugin(tmp_path), "wandb")
    monkeypatch.delenv("GANKIT_LOG", raising=False)
    res = run_cli("train", "dcgan", *tiny, "--steps", "1", "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    assert fake_wandb == []


def test_doc_wandb_plugin_refuses_without_the_package(run_cli, tiny, plugins, tmp_path,
                                                      monkeypatch):
    plugins.add_plugin(_doc_plugin(tmp_path), "wandb")
    monkeypatch.setenv("GANKIT_LOG", "wandb")
    monkeypatch.setitem(sys.modules, "wandb", None)
    res = run_cli("train", "dcgan", *tiny, "--steps", "1", "--name", "r", "--quiet")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "Error: plugin 'wandb' refused the run: --log wandb needs the wandb package: "
        "pip install gankit-wandb"]
