"""The built-in TensorBoard plugin: off by default, on with GANKIT_LOG / --log tensorboard.

The event files are read back with TensorBoard's own reader where the ``tensorboard``
package is installed (``pip install "gankit[tensorboard]"``; CI installs it).
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

import gankit_tensorboard as tb


def _accumulator(path):
    ea_mod = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason='the tensorboard package is not installed (pip install "gankit[tensorboard]")')
    ea = ea_mod.EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0,
                                                           "tensors": 0})
    ea.Reload()
    return ea


def test_wanted_reads_options_log_and_the_environment(monkeypatch):
    monkeypatch.delenv("GANKIT_LOG", raising=False)
    t = lambda log: SimpleNamespace(options=SimpleNamespace(log=log))  # noqa: E731
    assert tb.wanted(t(("tensorboard",))) and tb.wanted(t(["wandb", "TensorBoard"]))
    assert not tb.wanted(t(())) and not tb.wanted(t(("wandb",)))
    assert not tb.wanted(SimpleNamespace(options=SimpleNamespace()))  # before the field exists
    monkeypatch.setenv("GANKIT_LOG", "wandb, tensorboard")
    assert tb.wanted(SimpleNamespace(options=SimpleNamespace()))


def test_events_hold_losses_images_per_s_samples_and_config(run_cli, tiny, tmp_path,
                                                            monkeypatch):
    pytest.importorskip("tensorboard", reason='pip install "gankit[tensorboard]"')
    monkeypatch.setenv("GANKIT_LOG", "tensorboard")
    res = run_cli("train", "dcgan", *tiny, "--steps", "4", "--log-every", "2",
                  "--sample-every", "2", "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    run = tmp_path / "runs" / "r"
    ea = _accumulator(run / "tensorboard")
    tags = ea.Tags()
    assert {"loss/d", "loss/g", "perf/images_per_s"} <= set(tags["scalars"])
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    got = [(e.step, e.value) for e in ea.Scalars("loss/d")]
    assert got == [(r["step"], pytest.approx(r["loss_d"], abs=1e-5)) for r in logged]
    assert [e.step for e in ea.Scalars("perf/images_per_s")] == [2, 4]
    imgs = ea.Images("samples")
    assert [i.step for i in imgs] == [2, 4]
    assert (imgs[0].width, imgs[0].height) == (8 * 32 + 9 * 2, 8 * 32 + 9 * 2)  # the 8x8 grid
    config = ea.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"model": "dcgan"' in config
    status = ea.Tensors("status/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert status == "completed"


def test_off_unless_asked(run_cli, tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("GANKIT_LOG", raising=False)
    res = run_cli("train", "dcgan", *tiny, "--steps", "1", "--sample-every", "1",
                  "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "runs" / "r" / "metrics.jsonl").exists()
    assert not (tmp_path / "runs" / "r" / "tensorboard").exists()


def test_missing_package_refuses_the_run_in_one_line(run_cli, tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_LOG", "tensorboard")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    res = run_cli("train", "dcgan", *tiny, "--steps", "2", "--name", "r", "--quiet")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "tensorboard" in lines[0] and 'pip install "gankit[tensorboard]"' in lines[0]
    assert not list((tmp_path / "runs" / "r" / "checkpoints").glob("*.safetensors"))
