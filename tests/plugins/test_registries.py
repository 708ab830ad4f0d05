"""Export formats and image metrics are registries a plugin extends
(``register_exporters``, ``register_metrics``); gankit's own are registered the same way,
and ``gankit export --format`` and ``gankit evaluate`` look them up there."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gankit
from gankit import Exporter, Metric, hookimpl

from kit import ROOT, TINY, cli, noise_pngs


class NumpyFormat(Exporter):
    """A third party's format: the generator's samples on the check seeds, as .npy."""

    name = "npy-samples"
    summary = "the check seeds' samples as a .npy file"
    suffix = ".npy"

    def write(self, source, path, *, direction, lay, meta, options, progress):
        import torch

        z = source.model.latent(source.config, len(options.check_seeds))
        with torch.no_grad():
            x = source.model.generate(source.nets, z)
        progress()
        gankit.atomic_write(path, lambda tmp: np.save(open(tmp, "wb"), x.numpy()))
        progress()

        class Check:
            def line(self):
                return f"{len(options.check_seeds)} samples, meta {meta['gankit.model']}"

        return Check()


class MeanBrightness(Metric):
    """A third party's metric: how far the samples' mean brightness is from the data's."""

    name = "brightness_gap"
    summary = "mean brightness difference"
    space = "pixels"
    rows = (("brightness_gap", "brightness gap", "lower is better"),)

    def compute(self, real, fake, *, seed=0, progress=None):
        return {"brightness_gap": abs(float(real.float().mean() - fake.float().mean()))}


class ThirdParty:
    @hookimpl
    def register_exporters(self, register):
        register(NumpyFormat())

    @hookimpl
    def register_metrics(self, register):
        register(MeanBrightness())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("registries")
    data = noise_pngs(root / "images", 12, size=32)
    res = cli("--quiet", "train", "dcgan", "--data", data, *TINY, "--steps", "2",
              "--out", root / "runs", "--name", "tiny")
    assert res.exit_code == 0, res.stderr
    return root / "runs" / "tiny"


def test_builtins_are_registered_through_the_hooks(plugins):
    assert [e.name for e in plugins.exporters()][:3] == ["onnx", "torchscript", "web"]
    assert all(e.plugin == "gankit" for e in plugins.exporters())
    assert [m.name for m in plugins.metrics()] == ["swd", "kid", "fd", "precision", "fid",
                                                   "kid_inception"]


def test_hook_register_exporters(plugins, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plugins.add_plugin(ThirdParty(), "third")
    assert plugins.exporters().get("npy-samples").plugin == "third"
    res = cli("export", trained, "out.npy", "--format", "npy-samples", "--check-seeds", "0-3")
    assert res.exit_code == 0, res.stderr
    assert np.load(tmp_path / "out.npy").shape == (4, 3, 32, 32)
    assert "4 samples, meta dcgan" in res.stderr + res.stdout
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unknown_format_is_one_usage_error(trained):
    res = cli("export", trained, "--format", "onnxx")
    assert res.exit_code == 2
    assert "unknown export format 'onnxx'; did you mean 'onnx'?" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_library_refuses_an_unknown_format_too(trained):
    from gankit.errors import UsageError
    from gankit.export import export

    with pytest.raises(UsageError, match="--format nope: unknown export format 'nope'"):
        export(trained, "nope")


def test_export_help_lists_the_registered_formats(plugins):
    plugins.add_plugin(ThirdParty(), "third")
    res = cli("export", "--help")
    assert "--format [onnx|torchscript|web|npy-samples]" in res.stdout


def test_hook_register_metrics(plugins, trained, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    plugins.add_plugin(ThirdParty(), "third")
    res = cli("evaluate", trained, "-n", "8", "--seed", "1")
    assert res.exit_code == 0, res.stderr
    assert "brightness gap" in res.stdout
    (eval_file,) = (trained / "metrics").glob("eval-step-*.json")
    metrics = json.loads(eval_file.read_text())["metrics"]
    assert metrics["brightness_gap"] >= 0
    # the built-ins are still there, in their order, memorisation after the features'
    keys = list(metrics)
    assert keys[0] == "swd"
    assert keys.index("kid") < keys.index("fd") < keys.index("precision") < \
        keys.index("memorisation")
    assert keys.index("brightness_gap") < keys.index("kid")  # pixel metrics come first


def test_evaluate_table_rows_come_from_the_registry(plugins):
    from gankit.metrics.evaluate import rows

    keys = [k for k, _, _ in rows(plugins)]
    assert keys == ["swd", "kid", "fd", "precision", "recall", "memorisation", "fid",
                    "kid_inception"]
    plugins.add_plugin(ThirdParty(), "third")
    assert [k for k, _, _ in rows(plugins)][:2] == ["swd", "brightness_gap"]


def test_architecture_names_the_homes():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for row in ("| a new image metric |", "| a new export format |"):
        assert row in doc
