"""gankit.testing passes good plugins (the built-ins) and catches broken ones, by name."""

from __future__ import annotations

import sys
import types

import pytest

import gankit.testing as gt
from gankit import Data, Dataset, DataSpec, Loss, UnconditionalGAN, hookimpl


class MLP(UnconditionalGAN):
    name = "kit-mlp"
    summary = "tiny"
    defaults = {"image_size": 8, "loss": "bce"}
    squash = True

    def z_dim(self, config):
        return 4

    def build(self, config, spec, loss=None):
        from torch import nn

        n = spec.channels * spec.size * spec.size
        layers = [nn.Linear(4, n)] + ([nn.Tanh()] if self.squash else [])
        return {"G": nn.Sequential(*layers, nn.Unflatten(1, spec.shape)),
                "D": nn.Sequential(nn.Flatten(), nn.Linear(n, 1))}


SPEC = DataSpec("image", 1, 8)


def test_builtin_models_losses_and_datasets_pass():
    p = gt.builtin_plugins()
    out = gt.check_model("vanilla", DataSpec("vector", dim=2), plugins=p, batch_size=8)
    assert set(out["metrics"]) >= {"loss_d", "loss_g"} and out["checkpoint"].name.endswith(
        ".safetensors")
    for loss in p.losses():
        gt.check_loss(loss)
    data = gt.check_dataset("sushi", {"image_size": 16, "extra": {"sushi_count": 4}}, plugins=p)
    assert tuple(data.samples.shape) == (4, 3, 16, 16)


def test_a_good_model_passes_and_is_registered_for_load_model(tmp_path):
    out = gt.check_model(MLP(), SPEC, steps=2, workdir=tmp_path)
    assert out["trainer"].step == 2
    assert (tmp_path / "check" / "checkpoints" / "step-0000002.safetensors").exists()


def test_model_out_of_range():
    class Raw(MLP):
        squash = False

    with pytest.raises(AssertionError, match=r"images must be in \[-1, 1\]"):
        gt.check_model(Raw(), SPEC)


def test_model_with_wrong_output_shape():
    class Wrong(MLP):
        def generate(self, nets, z):
            return nets["G"](z)[:, :, :4]

    with pytest.raises(AssertionError, match=r"gave shape \(3, 1, 4, 8\).*expected \(3, 1, 8, 8\)"):
        gt.check_model(Wrong(), SPEC)


def test_model_that_never_trains_its_generator():
    class LazyG(MLP):
        def train_step(self, t):
            real = t.next_batch()
            loss_d = t.nets["D"](real).pow(2).mean()
            t.backward_step("D", loss_d)
            return {"loss_d": loss_d.detach()}

    with pytest.raises(AssertionError, match="left G unchanged"):
        gt.check_model(LazyG(), SPEC)


def test_model_that_returns_no_losses():
    class Silent(MLP):
        def train_step(self, t):
            super().train_step(t)
            return {}

    with pytest.raises(AssertionError, match="returned no losses"):
        gt.check_model(Silent(), SPEC)


def test_model_without_a_version():
    class NoVersion(MLP):
        version = 1

    with pytest.raises(AssertionError, match="version must be a non-empty string"):
        gt.check_model(NoVersion(), SPEC)


def test_loss_with_the_wrong_sign():
    class Backwards(Loss):
        name = "backwards"

        def d_loss(self, real_scores, fake_scores):
            return real_scores.mean() - fake_scores.mean()

        def g_loss(self, fake_scores):
            return -fake_scores.mean()

    with pytest.raises(AssertionError, match="should have a lower loss than the opposite"):
        gt.check_loss(Backwards())


def test_loss_that_is_not_a_scalar():
    class PerSample(Loss):
        name = "per-sample"

        def d_loss(self, real_scores, fake_scores):
            return (fake_scores - real_scores).flatten()

        def g_loss(self, fake_scores):
            return -fake_scores

    with pytest.raises(AssertionError, match="must return a scalar tensor"):
        gt.check_loss(PerSample())


class Images(Dataset):
    name = "kit-images"
    as_float = False
    vary = False

    def load(self, options):
        import torch

        g = torch.Generator().manual_seed(options.seed + (torch.seed() if self.vary else 0))
        x = torch.randint(0, 256, (6, 1, 8, 8), generator=g, dtype=torch.uint8)
        return Data(samples=x.float() / 255 if self.as_float else x, spec=SPEC)


def test_dataset_checks():
    assert len(gt.check_dataset(Images())) == 6

    class Floats(Images):
        as_float = True

    with pytest.raises(AssertionError, match="images must be a uint8"):
        gt.check_dataset(Floats())

    class Random(Images):
        vary = True

    with pytest.raises(AssertionError, match="different samples for the same options"):
        gt.check_dataset(Random())

    with pytest.raises(AssertionError, match="asked for image_size 16, got 8"):
        gt.check_dataset(Images(), {"image_size": 16})


def test_check_plugin_catches_undecorated_and_misspelled_hooks():
    undecorated = types.SimpleNamespace(register_models=lambda register: None,
                                        __name__="undecorated")
    with pytest.raises(AssertionError, match="defines register_models without @gankit.hookimpl"):
        gt.check_plugin(undecorated, light_import=False)

    class Misspelled:
        @hookimpl
        def register_model(self, register):
            pass

    with pytest.raises(AssertionError, match="failed to load: PluginValidationError"):
        gt.check_plugin(Misspelled(), "misspelled", light_import=False)


def test_check_plugin_passes_a_name_shadowing_a_builtin():
    """gankit may add a built-in name in any release: a plugin that had it first stays
    green, its model wins the bare name and the built-in keeps its qualified one."""
    class Clash:
        @hookimpl
        def register_models(self, register):
            dcgan = type("DCGAN2", (MLP,), {"name": "dcgan"})
            register(dcgan())

    p = gt.check_plugin(Clash(), "clash", light_import=False)
    assert p.models().get("dcgan").plugin == "clash"
    assert p.models().get("dcgan:dcgan").plugin == "dcgan"
    assert gt.plugin_info("clash", plugins=p)["shadows"] == ["model dcgan:dcgan"]


def test_check_plugin_catches_a_clash_among_its_own_names():
    class Twice:
        @hookimpl
        def register_models(self, register):
            register(type("A", (MLP,), {"name": "twice-mlp"})())
            register(type("B", (MLP,), {"name": "twice-mlp"})())

    with pytest.raises(AssertionError, match="model 'twice-mlp' is registered twice by "
                                             "plugin 'twice'"):
        gt.check_plugin(Twice(), "twice", light_import=False)


def test_check_plugin_catches_a_clash_with_a_plugin_it_depends_on():
    class Base:
        @hookimpl
        def register_models(self, register):
            register(type("A", (MLP,), {"name": "shared-mlp"})())

    class Extension:
        @hookimpl
        def register_models(self, register):
            register(type("B", (MLP,), {"name": "shared-mlp"})())

    p = gt.check_plugin(Base(), "base", light_import=False)
    with pytest.raises(AssertionError, match="model 'shared-mlp' is registered by plugins "
                                             "'base' and 'extension'"):
        gt.check_plugin(Extension(), "extension", plugins=p, light_import=False)


def test_check_plugin_catches_torch_at_import(tmp_path, monkeypatch):
    (tmp_path / "heavy_kit_plugin.py").write_text(
        "import torch\nfrom gankit import hookimpl\n\n"
        "@hookimpl\ndef register_losses(register):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "heavy_kit_plugin", raising=False)
    import heavy_kit_plugin

    with pytest.raises(AssertionError, match="`import heavy_kit_plugin` imports torch"):
        gt.check_plugin(heavy_kit_plugin)
