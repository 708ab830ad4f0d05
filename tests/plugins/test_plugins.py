"""Plugin loading: entry points, failures, clashes, GANKIT_LOAD_PLUGINS, runtime plugins."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass

import pytest

from gankit import Dataset, GANModel, hookimpl
from gankit.plugins import Plugins

from kit import ROOT


@dataclass
class FakeDist:
    name: str
    version: str = "0.1"


class FakeEP:
    def __init__(self, name, value, dist, loader):
        self.name, self.value, self.dist, self._loader = name, value, dist, loader

    def load(self):
        return self._loader()


def _module(name, **hooks):
    mod = types.ModuleType(name)
    for k, v in hooks.items():
        setattr(mod, k, hookimpl(v))
    return mod


class Toy(GANModel):
    name = "toy"
    summary = "a toy"


class Toy2(GANModel):
    name = "toy"
    summary = "another toy"


def _fail():
    raise ImportError("No module named 'missing_dep'")


@pytest.fixture(autouse=True)
def _no_filter(monkeypatch):
    """These tests feed fake third-party entry points: do not filter them out."""
    monkeypatch.delenv("GANKIT_LOAD_PLUGINS", raising=False)


def _load(entry_points):
    warnings = []
    p = Plugins(entry_points=entry_points, warn=warnings.append)
    p.load_entry_points()
    return p, warnings


def test_broken_import_is_one_warning_and_the_rest_works():
    good = _module("gankit_goodtoy", register_models=lambda register: register(Toy()))
    eps = [
        FakeEP("broken", "gankit_broken", FakeDist("gankit-broken"), _fail),
        FakeEP("good", "gankit_goodtoy", FakeDist("gankit-good"), lambda: good),
    ]
    p, warnings = _load(eps)
    assert len(warnings) == 1
    assert "broken" in warnings[0] and "missing_dep" in warnings[0]
    assert "\n" not in warnings[0]
    assert p.records["broken"].error.startswith("ImportError")
    assert "toy" in p.models()


def test_plugin_raising_while_registering_is_isolated():
    def bad(register):
        raise RuntimeError("boom")

    good = _module("g", register_models=lambda register: register(Toy()))
    eps = [FakeEP("bad", "b", FakeDist("gankit-bad"), lambda: _module("b", register_models=bad)),
           FakeEP("good", "g", FakeDist("gankit-good"), lambda: good)]
    p, warnings = _load(eps)
    models = p.models()
    assert "toy" in models
    assert any("bad" in w and "boom" in w for w in warnings)
    assert "RuntimeError" in p.records["bad"].error


def test_same_model_name_in_two_installed_plugins_is_refused_bare_and_warned():
    from gankit import UnknownNameError

    a = _module("a", register_models=lambda register: register(Toy()))
    b = _module("b", register_models=lambda register: register(Toy2()))
    eps = [FakeEP("first", "a", FakeDist("gankit-a"), lambda: a),
           FakeEP("second", "b", FakeDist("gankit-b"), lambda: b)]
    p, warnings = _load(eps)
    # the bare name is refused with both qualified names; each stays reachable
    with pytest.raises(UnknownNameError, match=r"model 'toy' is registered by plugins "
                       r"'first', 'second'; did you mean 'first:toy' or 'second:toy'\?"):
        p.models().get("toy")
    assert p.models().get("first:toy").summary == "a toy"
    assert p.models().get("second:toy").summary == "another toy"
    assert any("first" in w and "second" in w and "second:toy" in w for w in warnings)


def test_builtins_load_before_third_party():
    order = []
    third = _module("t", register_models=lambda register: order.append("third"))
    builtin = _module("b", register_models=lambda register: order.append("builtin"))
    eps = [FakeEP("aaa", "t", FakeDist("gankit-aaa"), lambda: third),
           FakeEP("zzz", "b", FakeDist("gankit"), lambda: builtin)]
    p, _ = _load(eps)
    p.models()
    assert order == ["builtin", "third"]


def test_load_plugins_env_restricts_third_party(monkeypatch):
    loaded = []

    def mk(name):
        return FakeEP(name, name, FakeDist(f"gankit-{name}"),
                      lambda: loaded.append(name) or _module(name))

    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", "two")
    _load([mk("one"), mk("two")])
    assert loaded == ["two"]
    loaded.clear()
    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", "")
    _load([mk("one"), mk("two")])
    assert loaded == []


def test_misspelled_hook_is_a_load_error():
    mod = types.ModuleType("typo")
    mod.register_modles = hookimpl(lambda register: None)
    p, warnings = _load([FakeEP("typo", "typo", FakeDist("gankit-typo"), lambda: mod)])
    assert p.records["typo"].error
    assert warnings and "typo" in warnings[0]


def test_registering_wrong_type_is_reported():
    mod = _module("w", register_models=lambda register: register(object()))
    p, warnings = _load([FakeEP("wrong", "w", FakeDist("gankit-wrong"), lambda: mod)])
    p.models()
    assert "TypeError" in (p.records["wrong"].error or "")


def test_runtime_plugin_seen_by_list_models(plugins, run_cli):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(Toy())

        @hookimpl
        def register_datasets(self, register):
            class D(Dataset):
                name = "toyset"
                summary = "toy data"

            register(D())

    plugins.add_plugin(Plugin(), "toyplugin")
    res = run_cli("list-models", "--json")
    assert res.exit_code == 0
    names = {m["name"]: m for m in json.loads(res.stdout)}
    assert names["toy"]["plugin"] == "toyplugin"
    assert "dcgan" in names
    res = run_cli("list-datasets", "--json")
    assert "toyset" in {d["name"] for d in json.loads(res.stdout)}
    res = run_cli("plugins", "--json")
    recs = {r["name"]: r for r in json.loads(res.stdout)}
    assert recs["toyplugin"]["hooks"] == ["register_datasets", "register_models"]


def test_runtime_plugin_that_raises_keeps_list_models_working(plugins, run_cli):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            raise ValueError("broken on purpose")

    plugins.add_plugin(Plugin(), "raiser")
    res = run_cli("list-models", "--json")
    assert res.exit_code == 0
    assert "dcgan" in {m["name"] for m in json.loads(res.stdout)}
    assert "raiser" in res.stderr and "broken on purpose" in res.stderr
    res = run_cli("plugins", "--json")
    recs = {r["name"]: r for r in json.loads(res.stdout)}
    assert "broken on purpose" in recs["raiser"]["error"]


def test_plugin_command_and_clash_with_core(plugins, run_cli, capsys):
    import click

    class Plugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello")
            def hello():
                click.echo("hi from plugin")

            @cli.command("train")
            def train():
                click.echo("hijacked")

    plugins.add_plugin(Plugin(), "cmds")
    res = run_cli("hello")
    assert res.stdout.strip() == "hi from plugin"
    err = capsys.readouterr().err
    assert "command 'train' from plugin 'cmds' clashes with gankit's own" in err
    res = run_cli("train", "--help")
    assert "hijacked" not in res.stdout


def test_builtin_plugins_are_entry_points():
    from importlib import metadata

    eps = {ep.name: ep for ep in metadata.entry_points(group="gankit")}
    for name in ("dcgan", "losses", "datasets", "vanilla", "wgan-gp", "cyclegan"):
        assert name in eps
        assert eps[name].dist.name == "gankit"


def test_plugins_folder_is_not_a_package():
    import gankit_dcgan

    assert "plugins" not in gankit_dcgan.__name__
    assert not (ROOT / "plugins" / "__init__.py").exists()
    assert sys.modules["gankit_dcgan"] is gankit_dcgan


def test_unknown_model_did_you_mean(run_cli):
    res = run_cli("train", "dcgn", "--steps", "1")
    assert res.exit_code != 0
    assert res.stderr.strip() == "Error: unknown model 'dcgn'; did you mean 'dcgan'?"


@pytest.mark.parametrize("cmd", ["list-models", "list-datasets", "list-losses", "plugins"])
def test_list_commands_render_tables(run_cli, cmd):
    res = run_cli(cmd)
    assert res.exit_code == 0
    assert "┃" in res.stdout or "|" in res.stdout
