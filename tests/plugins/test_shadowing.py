"""Names gankit itself uses, registered by an installed plugin (tests/fixtures/shadow_plugin:
the loss ``rsgan``, the model ``vanilla``, the data set ``ring8``, the built-in plots
plugin's command ``plot`` and gankit's own ``train``): the plugin's own tests stay green,
its bare names win (visibly), every built-in stays reachable as ``PLUGIN:NAME``, and a run
keeps the implementations it was trained with whatever is installed since."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gankit.testing as gt
from gankit import Checkpoint, UnknownNameError, hookimpl

from kit import FIXTURES, import_fixture, run_fixture_tests

FIXTURE = FIXTURES / "shadow_plugin"
FAST = ["--steps", "2", "--batch-size", "8", "--log-every", "1", "--sample-every", "2",
        "--checkpoint-every", "2", "--quiet", "--set", "hidden=8"]


@pytest.fixture
def shadow(monkeypatch):
    return import_fixture(monkeypatch, FIXTURE, "gankit_shadow")


@pytest.fixture
def p(shadow):
    return gt.check_plugin(shadow, "shadow", light_import=False)


def _names(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())["names"]


def test_the_plugins_own_tests_pass_unchanged():
    proc = run_fixture_tests(FIXTURE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout


def test_bare_names_reach_the_installed_plugin_and_qualified_ones_the_builtins(p, tmp_path):
    res = gt.run_cli(["train", "vanilla", "--loss", "rsgan", "--dataset", "ring8", *FAST,
                      "--out", tmp_path, "--name", "bare"], plugins=p)
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "bare") == {
        "model": "shadow:vanilla", "loss": "shadow:rsgan", "dataset": "shadow:ring8",
        "datasets": {"A": "shadow:ring8"}}
    res = gt.run_cli(["train", "vanilla:vanilla", "--loss", "losses:rsgan", "--dataset",
                      "datasets:ring8", *FAST, "--out", tmp_path, "--name", "builtin"],
                     plugins=p)
    assert res.exit_code == 0, res.output
    run = tmp_path / "builtin"
    assert _names(run) == {"model": "vanilla:vanilla", "loss": "losses:rsgan",
                           "dataset": "datasets:ring8", "datasets": {"A": "datasets:ring8"}}
    c = Checkpoint(run / "checkpoints" / "step-0000002.safetensors")
    assert json.loads(c.metadata["gankit.names"])["loss"] == "losses:rsgan"
    assert c.model == "vanilla" and c.plugin == "vanilla"


def test_the_shadowing_shows_in_listings(p, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich folds long cells in narrow terminals
    res = gt.run_cli(["list-losses", "--json"], plugins=p)
    items = {x["qualified_name"]: x for x in json.loads(res.stdout)}
    assert items["shadow:rsgan"]["shadows"] == ["losses:rsgan"]
    assert items["losses:rsgan"]["shadowed_by"] == "shadow:rsgan"
    assert items["losses:bce"]["shadowed_by"] is None and not items["losses:bce"]["shadows"]
    res = gt.run_cli(["list-losses"], plugins=p)
    assert "losses:rsgan (shadowed by" in " ".join(res.stdout.split())
    res = gt.run_cli(["list-models"], plugins=p)
    assert "vanilla (shadows vanilla:vanilla)" in " ".join(res.stdout.split())
    res = gt.run_cli(["list-datasets", "--json"], plugins=p)
    assert {d["qualified_name"] for d in json.loads(res.stdout)} >= {"shadow:ring8",
                                                                      "datasets:ring8"}
    res = gt.run_cli(["plugins"], plugins=p)
    out = " ".join(res.stdout.split())
    assert res.exit_code == 0
    for text in ("shadows loss losses:rsgan", "shadows model vanilla:vanilla",
                 "shadows dataset datasets:ring8", "shadows command plots:plot",
                 "shadowed: command shadow:train"):
        assert text in out, text
    info = json.loads(gt.run_cli(["plugins", "--json"], plugins=p).stdout)
    shadow = next(r for r in info if r["name"] == "shadow")
    assert shadow["losses"] == ["rsgan"] and shadow["commands"] == ["plot", "train"]


def test_commands_by_bare_and_qualified_name(p):
    assert gt.run_cli(["plot"], plugins=p).stdout.strip() == "shadow plot"
    res = gt.run_cli(["plots:plot", "--help"], plugins=p)
    assert res.exit_code == 0 and "--smoothing" in res.stdout  # the built-in one
    res = gt.run_cli(["train", "--help"], plugins=p)
    assert "--loss" in res.stdout  # gankit's own train keeps its name
    assert gt.run_cli(["shadow:train"], plugins=p).stdout.strip() == "shadow train"
    assert "shadow:train" in gt.run_cli(["--help"], plugins=p).stdout


def test_a_run_trained_before_the_shadowing_resumes_with_its_own_implementations(
        shadow, tmp_path):
    before = gt.builtin_plugins()  # the plugin is not installed yet
    res = gt.run_cli(["train", "vanilla", "--loss", "rsgan", "--dataset", "ring8", *FAST,
                      "--out", tmp_path, "--name", "old"], plugins=before)
    assert res.exit_code == 0, res.output
    run = tmp_path / "old"
    assert _names(run)["loss"] == "losses:rsgan"
    after = gt.check_plugin(shadow, "shadow", light_import=False)  # installed now
    assert after.losses().get("rsgan").plugin == "shadow"
    res = gt.run_cli(["train", "--resume", run, "--steps", "4", "--quiet"], plugins=after)
    assert res.exit_code == 0, res.output
    assert _names(run) == {"model": "vanilla:vanilla", "loss": "losses:rsgan",
                           "dataset": "datasets:ring8", "datasets": {"A": "datasets:ring8"}}
    c = Checkpoint(run / "checkpoints" / "step-0000004.safetensors")
    assert json.loads(c.metadata["gankit.names"])["loss"] == "losses:rsgan"
    # the same loss spelled another way is no change; another loss still needs --override
    res = gt.run_cli(["train", "--resume", run, "--steps", "4", "--loss", "losses:rsgan",
                      "--quiet"], plugins=after)
    assert res.exit_code == 0, res.output
    res = gt.run_cli(["train", "--resume", run, "--steps", "6", "--loss", "shadow:rsgan",
                      "--quiet"], plugins=after)
    assert res.exit_code == 1 and "--loss shadow:rsgan (the run has rsgan)" in res.stderr
    # sampling rebuilds gankit's vanilla (version 1), not the plugin's (version 7)
    import gankit

    model, *_ = gankit.load_model(run, plugins=after)
    assert model.plugin == "vanilla"
    res = gt.run_cli(["sample", run, "--out", tmp_path / "s.png", "--quiet"], plugins=after)
    assert res.exit_code == 0, res.output
    # mode coverage against gankit's ring8 (the plugin's "ring8" has no modes)
    res = gt.run_cli(["evaluate", run, "-n", "64", "--json"], plugins=after)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["modes"] == 8


def test_a_run_whose_plugin_is_gone_says_so_in_one_line(p, tmp_path):
    res = gt.run_cli(["train", "vanilla", *FAST, "--out", tmp_path, "--name", "r"], plugins=p)
    assert res.exit_code == 0, res.output
    gone = gt.builtin_plugins()  # uninstalled: gankit's own vanilla and rsgan remain
    res = gt.run_cli(["train", "--resume", tmp_path / "r", "--steps", "4"], plugins=gone)
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "plugin 'shadow' is not installed" in res.stderr
    res = gt.run_cli(["sample", tmp_path / "r", "--out", tmp_path / "s.png"], plugins=gone)
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "model 'shadow:vanilla', but plugin 'shadow' is not installed" in res.stderr


def test_two_installed_plugins_with_one_name_lose_the_bare_name(p, tmp_path):
    from gankit import Loss

    class Other(Loss):
        name = "rsgan"

        def d_loss(self, real_scores, fake_scores):
            return (fake_scores - real_scores).float().mean()

        def g_loss(self, fake_scores):
            return -fake_scores.float().mean()

    class OtherPlugin:
        @hookimpl
        def register_losses(self, register):
            register(Other())

    p.add_plugin(OtherPlugin(), "other")
    with pytest.raises(UnknownNameError, match="did you mean 'shadow:rsgan' or 'other:rsgan'"):
        p.losses().get("rsgan")
    res = gt.run_cli(["train", "vanilla", "--loss", "rsgan", *FAST, "--out", tmp_path],
                     plugins=p)
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1] == (
        "Error: loss 'rsgan' is registered by plugins 'shadow', 'other'; did you mean "
        "'shadow:rsgan' or 'other:rsgan'?")
    res = gt.run_cli(["train", "vanilla", "--loss", "other:rsgan", *FAST, "--out", tmp_path,
                      "--name", "o"], plugins=p)
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "o")["loss"] == "other:rsgan"


def test_a_02_run_with_bare_names_resumes_with_what_02_chose(p):
    """gankit 0.2 recorded bare loss and data set names and kept the first registration
    (built-ins first): those runs resolve them the same way."""
    from gankit.registry import pins_for
    from gankit.train import TrainOptions

    class Old02:
        model, plugin, metadata = "vanilla", "vanilla", {}

    saved = TrainOptions(model="vanilla", loss="rsgan", dataset="ring8")
    pins = pins_for(Old02(), p, saved)
    assert pins == {"model": {"vanilla": "vanilla:vanilla"}, "loss": {"rsgan": "losses:rsgan"},
                    "dataset": {"ring8": "datasets:ring8"}}
    p.pin(pins)
    try:
        assert p.losses().get("rsgan").plugin == "losses"
        assert p.models().get("vanilla").plugin == "vanilla"
    finally:
        p.pin({})
    assert p.losses().get("rsgan").plugin == "shadow"


def test_loaded_as_an_installed_distribution(shadow, monkeypatch, tmp_path):
    """Through the entry-point loader, as `pip install gankit-shadow` gives it: built-ins
    (distribution gankit) first, then the plugin, which wins the bare names."""
    from dataclasses import dataclass
    from importlib import metadata

    from gankit.plugins import Plugins

    @dataclass
    class Dist:
        name: str
        version: str

    class EntryPoint:
        name, value, dist = "shadow", "gankit_shadow", Dist("gankit-shadow", "0.1.0")

        def load(self):
            return shadow

    monkeypatch.delenv("GANKIT_LOAD_PLUGINS", raising=False)
    builtins = [ep for ep in metadata.entry_points(group="gankit")
                if ep.dist is not None and ep.dist.name == "gankit"]
    warnings = []
    p = Plugins(entry_points=[EntryPoint(), *builtins], warn=warnings.append)
    p.load_entry_points()
    assert p.losses().get("rsgan").plugin == "shadow" and not warnings
    info = json.loads(gt.run_cli(["plugins", "--json"], plugins=p).stdout)
    rec = next(r for r in info if r["name"] == "shadow")
    assert (rec["distribution"], rec["version"], rec["builtin"]) == ("gankit-shadow", "0.1.0",
                                                                     False)
    assert "loss losses:rsgan" in rec["shadows"]
    res = gt.run_cli(["train", "vanilla", "--loss", "rsgan", *FAST, "--out", tmp_path,
                      "--name", "ep"], plugins=p)
    assert res.exit_code == 0, res.output
    assert _names(tmp_path / "ep")["loss"] == "shadow:rsgan"


def test_core_command_list_matches_the_command_line():
    """The plugin manager's copy of gankit's command names is the command line's."""
    from gankit.cli import core_command_names
    from gankit.plugins import CORE_COMMANDS

    assert set(CORE_COMMANDS) == core_command_names()
