"""gankit.get_model/get_loss/get_dataset, and unknown names that point at a plugin that
failed to load instead of suggesting another name."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import gankit
import gankit.testing as gt
from gankit import GANModel, UnknownNameError, hookimpl
from gankit.plugins import Plugins

from kit import FakeDist, FakeEP


def test_get_by_name_and_alias(plugins):
    assert gankit.get_model("dcgan").name == "dcgan"
    assert gankit.get_loss("ns").name == "bce"  # an alias
    assert gankit.get_dataset("sushi").name == "sushi"
    assert gankit.get_loss("ragan") is plugins.losses().get("ragan")  # the process's manager
    for fn in ("get_model", "get_loss", "get_dataset"):
        assert fn in gankit.__all__


def test_get_unknown_name_did_you_mean(plugins):
    with pytest.raises(UnknownNameError, match=r"unknown model 'dcgn'; did you mean 'dcgan'\?"):
        gankit.get_model("dcgn")
    with pytest.raises(UnknownNameError, match="unknown loss 'hingee'; did you mean 'hinge'"):
        gankit.get_loss("hingee")
    with pytest.raises(KeyError):  # UnknownNameError is a KeyError too
        gankit.get_dataset("nope")


def test_get_sees_plugins_added_at_runtime(plugins):
    class Toy(GANModel):
        name = "toy-lookup"

    class P:
        @hookimpl
        def register_models(self, register):
            register(Toy())

    plugins.add_plugin(P(), "toy")
    assert gankit.get_model("toy-lookup").plugin == "toy"


# -- a plugin that raises at import: the error names it --------------------------------------


def _boom():
    raise RuntimeError("boom at import")


def _manager(monkeypatch, *fakes):
    from importlib import metadata

    monkeypatch.delenv("GANKIT_LOAD_PLUGINS", raising=False)
    builtins = [FakeEP(ep.name, ep.dist, ep.load) for ep in metadata.entry_points(group="gankit")
                if ep.dist is not None and ep.dist.name == "gankit"]
    warnings = []
    p = Plugins(entry_points=builtins + list(fakes), warn=warnings.append)
    p.load_entry_points()
    return p, warnings


def test_train_a_model_of_a_broken_plugin_names_the_plugin(monkeypatch, tmp_path):
    p, warnings = _manager(monkeypatch, FakeEP("sngan", FakeDist("gankit-sngan", "0.2.0"), _boom))
    assert len(warnings) == 1
    result = gt.run_cli(["train", "sngan", "--steps", "1", "--out", tmp_path], plugins=p)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Error: unknown model 'sngan'; plugin 'sngan' (gankit-sngan 0.2.0) failed to load "
        "(RuntimeError: boom at import); `gankit plugins` shows the error, `--debug` the "
        "traceback"]
    assert "did you mean" not in lines[0]
    # the same through the public lookup, and for a name the distribution contains
    with pytest.raises(UnknownNameError, match="plugin 'sngan' .* failed to load"):
        gankit.get_model("sngan", plugins=p)
    with pytest.raises(UnknownNameError, match="plugin 'sngan' .* failed to load"):
        gankit.get_loss("sngan-hinge", plugins=p)


def test_unrelated_unknown_name_lists_the_failed_plugins(monkeypatch):
    p, _ = _manager(monkeypatch, FakeEP("sngan", FakeDist("gankit-sngan", "0.2.0"), _boom))
    with pytest.raises(UnknownNameError) as exc:
        gankit.get_model("dcgn", plugins=p)
    assert str(exc.value) == ("unknown model 'dcgn'; did you mean 'dcgan'?; plugin 'sngan' "
                              "failed to load (`gankit plugins` shows the error, `--debug` "
                              "the traceback)")


def test_plugin_raising_in_its_registration_hook_is_named(monkeypatch):
    def register_models(register):
        raise ValueError("no models today")

    mod = types.ModuleType("gankit_spectral")
    mod.register_models = hookimpl(register_models)
    p, _ = _manager(monkeypatch, FakeEP("spectral", FakeDist("gankit-spectral", "1.0"),
                                        lambda: mod))
    with pytest.raises(UnknownNameError, match=r"plugin 'spectral' \(gankit-spectral 1.0\) "
                                               r"failed to load \(ValueError in "
                                               r"register_models: no models today\)"):
        gankit.get_model("spectral", plugins=p)


def test_no_failed_plugins_keeps_the_old_message(run_cli):
    res = run_cli("train", "dcgn", "--steps", "1")
    assert res.stderr.strip() == "Error: unknown model 'dcgn'; did you mean 'dcgan'?"


# -- qualified names: PLUGIN:NAME ---------------------------------------------------------


def test_qualified_names_by_name_and_alias(plugins):
    assert gankit.get_loss("losses:ns") is gankit.get_loss("bce")  # an alias, qualified
    assert gankit.get_model("dcgan:dcgan") is gankit.get_model("dcgan")
    assert gankit.get_dataset("datasets:sushi").plugin == "datasets"
    with pytest.raises(UnknownNameError, match="plugin 'losses' registers no loss 'nope'"):
        gankit.get_loss("losses:nope")
    with pytest.raises(UnknownNameError, match="plugin 'sngan' is not installed"):
        gankit.get_loss("sngan:rsgan")


def test_qualified_names_in_the_cli_and_json_listings(run_cli, tiny):
    import json

    res = run_cli("list-models", "--json")
    models = {m["qualified_name"]: m for m in json.loads(res.stdout)}
    assert models["dcgan:dcgan"]["name"] == "dcgan"
    assert models["dcgan:dcgan"]["shadows"] == [] and models["dcgan:dcgan"]["shadowed_by"] is None
    res = run_cli("train", "dcgan:dcgan", "--loss", "losses:hinge", "--dataset",
                  "datasets:sushi", *tiny, "--steps", "1", "--sample-every", "0", "--quiet")
    assert res.exit_code == 0, res.output
    runs = list((Path("runs")).iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("dcgan-")  # not "dcgan:dcgan-"
    names = json.loads((runs[0] / "config.json").read_text())["names"]
    assert (names["model"], names["loss"], names["dataset"]) == (
        "dcgan:dcgan", "losses:hinge", "datasets:sushi")
