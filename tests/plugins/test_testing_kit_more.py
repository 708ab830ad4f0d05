"""gankit.testing's later checks: stateful losses, deliberately broken plugins, and the
public plugin_info() record (what `gankit plugins --json` shows)."""

from __future__ import annotations

import json
import sys
import types

import pytest

import gankit.testing as gt
from gankit import GankitError, Loss, hookimpl


class Plain(Loss):
    name = "plain"

    def d_loss(self, real_scores, fake_scores):
        return fake_scores.float().mean() - real_scores.float().mean()

    def g_loss(self, fake_scores):
        return -fake_scores.float().mean()


class Remembers(Loss):
    """Keeps the mean real score of its last d_loss (detached) for g_loss: a good one."""

    name = "remembers"

    def __init__(self):
        self.last_real = None

    def d_loss(self, real_scores, fake_scores):
        self.last_real = real_scores.detach().float().mean()
        return fake_scores.float().mean() - real_scores.float().mean()

    def g_loss(self, fake_scores):
        ref = self.last_real if self.last_real is not None else 0.0
        return (ref - fake_scores.float()).abs().mean()


def test_plain_and_good_stateful_losses_pass():
    out = gt.check_loss_stateful(Plain())
    assert len(out) == 2 and len(out[0][0]) == 1  # two steps, one critic step each
    out = gt.check_loss_stateful(Remembers, n_critic=3, steps=3)
    assert len(out) == 3 and len(out[0][0]) == 3


def test_builtin_losses_pass_the_stateful_check():
    p = gt.builtin_plugins()
    for loss in p.losses():
        gt.check_loss_stateful(loss)
    gt.check_loss_stateful("wgan-gp", plugins=p)  # by name; five critic steps


def test_state_in_a_class_attribute_leaks_across_instances():
    class Shared(Remembers):
        history = []  # one list for every instance

        def d_loss(self, real_scores, fake_scores):
            self.history.append(real_scores.detach().float().mean())
            return super().d_loss(real_scores, fake_scores)

        def g_loss(self, fake_scores):
            return (sum(self.history) / len(self.history) - fake_scores.float()).abs().mean()

    with pytest.raises(AssertionError, match="leaks across instances|two fresh instances"):
        gt.check_loss_stateful(Shared())


def test_state_kept_with_its_graph_is_caught():
    class Attached(Remembers):
        def d_loss(self, real_scores, fake_scores):
            self.last_real = real_scores.float().mean()  # not detached
            return fake_scores.float().mean() - real_scores.float().mean()

    with pytest.raises(AssertionError, match="keeps 'last_real' attached to the autograd graph"):
        gt.check_loss_stateful(Attached)


def test_non_finite_g_loss_is_caught():
    class Blows(Plain):
        def g_loss(self, fake_scores):
            return (fake_scores.float() * 0 + float("inf")).mean()

    with pytest.raises(AssertionError, match=r"g_loss\(\) in step 1 is not finite"):
        gt.check_loss_stateful(Blows())


def test_loss_needing_arguments_asks_for_a_factory():
    class Weighted(Plain):
        def __init__(self, w):
            self.w = w

    with pytest.raises(AssertionError, match="pass a factory"):
        gt.check_loss_stateful(Weighted(2.0))
    gt.check_loss_stateful(lambda: Weighted(2.0))


# -- broken plugins -----------------------------------------------------------------------


def test_broken_at_import(tmp_path, monkeypatch):
    (tmp_path / "gankit_kit_boom.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    p, warning = gt.assert_broken_plugin_warns("gankit_kit_boom", "kit-boom")
    assert "plugin 'kit-boom' failed to load: RuntimeError: boom at import" in warning
    assert gt.plugin_info("kit-boom", plugins=p)["error"] == "RuntimeError: boom at import"


def test_broken_in_a_registration_hook():
    mod = types.ModuleType("gankit_kit_raiser")

    def register_losses(register):
        raise ValueError("no losses today")

    mod.register_losses = hookimpl(register_losses)
    _, warning = gt.assert_broken_plugin_warns(mod, "raiser")
    assert "raised in register_losses: ValueError: no losses today" in warning


def test_misspelled_hook_is_broken_too():
    class Typo:
        @hookimpl
        def register_modles(self, register):
            pass

    _, warning = gt.assert_broken_plugin_warns(Typo(), "typo")
    assert "PluginValidationError" in warning


def test_a_plugin_that_is_not_broken_fails_the_check():
    class Fine:
        @hookimpl
        def register_losses(self, register):
            register(Plain())

    with pytest.raises(AssertionError, match="loaded without an error; it is not broken"):
        gt.assert_broken_plugin_warns(Fine(), "fine")


def test_a_plugin_warning_twice_fails_the_check():
    class Twice:
        @hookimpl
        def register_models(self, register):
            raise ValueError("one")

        @hookimpl
        def register_losses(self, register):
            raise ValueError("two")

    with pytest.raises(AssertionError, match="expected exactly one warning, got 2"):
        gt.assert_broken_plugin_warns(Twice(), "twice")


# -- plugin_info ---------------------------------------------------------------------------


def test_plugin_info_is_what_gankit_plugins_json_shows(plugins):
    import click

    class Mine:
        @hookimpl
        def register_losses(self, register):
            register(Plain(), aliases=("flat",))

        @hookimpl
        def register_commands(self, cli):
            @cli.command("plain-hello")
            def hello():
                click.echo("hi")

    plugins.add_plugin(Mine(), "mine")
    info = gt.plugin_info("mine")  # the process-wide manager, as the CLI sees it
    assert info == {"name": "mine", "module": info["module"], "distribution": None,
                    "version": None, "builtin": False,
                    "hooks": ["register_commands", "register_losses"], "error": None,
                    "models": [], "datasets": [], "losses": ["plain"],
                    "commands": ["plain-hello"], "shadows": [], "shadowed": []}
    listed = {r["name"]: r for r in json.loads(gt.run_cli(["plugins", "--json"],
                                                           plugins=plugins).stdout)}
    assert listed["mine"] == info
    assert "dcgan" in gt.plugin_info("dcgan")["models"]
    assert {"rsgan", "ragan", "ralsgan"} <= set(gt.plugin_info("losses")["losses"])
    with pytest.raises(GankitError, match="unknown plugin 'mien'; did you mean 'mine'"):
        gt.plugin_info("mien")


def test_the_new_checks_are_exported():
    for name in ("check_loss_stateful", "assert_broken_plugin_warns", "plugin_info"):
        assert name in gt.__all__
    assert "gankit.testing" in sys.modules
