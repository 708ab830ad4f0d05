"""A plugin written against the first plugin guide (tests/fixtures/old_guide_plugin: a
one-argument g_loss, a data set without data options, an on_log hook reading
``elapsed_s``, tests reading the plugin manager's records) keeps working unchanged."""

from __future__ import annotations

import pytest

import gankit.testing as gt

from kit import FIXTURES, import_fixture, run_fixture_tests

FIXTURE = FIXTURES / "old_guide_plugin"
TRAIN = ["--steps", "3", "--batch-size", "8", "--log-every", "1", "--sample-every", "3",
         "--checkpoint-every", "3", "--quiet"]


@pytest.fixture
def old(monkeypatch):
    return import_fixture(monkeypatch, FIXTURE, "gankit_old_guide")


def test_old_plugin_trains_through_the_cli_with_its_loss(old, tmp_path):
    p = gt.check_plugin(old, "old-guide", light_import=False)
    res = gt.run_cli(["train", "old-mlp", "--loss", "old-hinge", "--dataset", "old-dots",
                      *TRAIN, "--out", tmp_path, "--name", "r"], plugins=p)
    assert res.exit_code == 0, res.output
    run = tmp_path / "r"
    assert (run / "checkpoints" / "step-0000003.safetensors").exists()
    lines = (run / "old-log.txt").read_text().splitlines()  # its on_log hook, elapsed_s
    assert [int(x.split()[0]) for x in lines] == [1, 2, 3]
    # its one-argument loss with a built-in model
    res = gt.run_cli(["train", "vanilla", "--dataset", "ring8", "--loss", "old-hinge", *TRAIN,
                      "--out", tmp_path, "--name", "v"], plugins=p)
    assert res.exit_code == 0, res.output
    res = gt.run_cli(["old-hello", "world"], plugins=p)
    assert res.exit_code == 0 and res.stdout.strip() == "hello world"


def test_old_loss_through_the_new_call(old):
    import torch

    from gankit import call_g_loss

    loss = old.OldHinge()
    assert not loss.wants_real_scores
    assert call_g_loss(loss, torch.tensor([1.0, 3.0]), torch.tensor([9.0, 9.0])).item() == -2.0
    gt.check_loss_stateful(loss)


def test_old_surface_and_public_info_agree(old):
    p = gt.check_plugin(old, "old-guide", light_import=False)
    info = gt.plugin_info("old-guide", plugins=p)
    assert info["hooks"] == p.records["old-guide"].hooks
    assert info["models"] == ["old-mlp"] and p.models().get("old-mlp").plugin == "old-guide"


def test_old_plugins_own_tests_pass_unchanged():
    proc = run_fixture_tests(FIXTURE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
