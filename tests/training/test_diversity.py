"""What keeps a generator's pictures varied: the minibatch standard deviation layer of
the discriminators (``gankit.nn.minibatch_std``, ``--set mbstd=N`` on dcgan and
projected), the mode-seeking term (``gankit.nn.mode_seeking_loss``, ``--set
mode_seeking=W`` on dcgan) and the built-in step's hook that adds it to G's loss
(``UnconditionalGAN.g_extra_loss``)."""

from __future__ import annotations

import json

import pytest
import torch

from gankit import UnconditionalGAN
from gankit import nn as gnn

from test_step_hooks import FakeTrainer

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8",
        "--steps", "3", "--log-every", "1", "--sample-every", "0", "--quiet"]


def test_minibatch_std_sees_a_batch_without_variety():
    layer = gnn.minibatch_std(4)
    varied = torch.randn(8, 3, 4, 4)
    out = layer(varied)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], varied)
    assert float(out[:, 3].min()) > 0.1
    # groups are samples i, i + 2, i + 4, i + 6: one value per group, over all positions
    assert torch.equal(out[0, 3], out[2, 3]) and not torch.equal(out[0, 3], out[1, 3])
    same = layer(torch.randn(1, 3, 4, 4).repeat(8, 1, 1, 1))[:, 3]
    assert float(same.max()) < 1e-3  # identical samples: no spread
    assert layer(torch.randn(6, 3, 4, 4)).shape == (6, 4, 4, 4)  # 6 is not a multiple of 4
    assert layer(torch.randn(1, 3, 4, 4)).shape == (1, 4, 4, 4)


def test_mode_seeking_loss_punishes_the_same_picture_from_different_noise():
    z = torch.randn(8, 16)
    varied = torch.randn(8, 1, 8, 8)
    collapsed = varied[:1].repeat(8, 1, 1, 1)
    assert float(gnn.mode_seeking_loss(collapsed, z)) > 100 * float(
        gnn.mode_seeking_loss(varied, z))
    # within classes only: a batch varied across classes but collapsed within each
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    per_class = torch.cat([varied[:1].repeat(4, 1, 1, 1), varied[1:2].repeat(4, 1, 1, 1)])
    assert float(gnn.mode_seeking_loss(per_class, z)) < 10
    assert float(gnn.mode_seeking_loss(per_class, z, labels)) > 1000
    assert float(gnn.mode_seeking_loss(varied, z, torch.arange(8))) == 0.0  # no pair
    x = varied.clone().requires_grad_()
    gnn.mode_seeking_loss(x, z).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


class WithGExtra(UnconditionalGAN):
    name = "gextra"

    def g_extra_loss(self, t, fake, z, labels):
        t.events.append(("g_extra", tuple(fake.shape), tuple(z.shape), labels))
        term = fake.pow(2).mean()
        return 3 * term, {"loss_sq": term}


def test_the_g_extra_term_joins_g_loss_and_is_reported():
    t = FakeTrainer()
    out = WithGExtra().train_step(t)
    assert ("g_extra", (4, 2), (4, 3), None) in t.events
    assert t.events.index(("step", "D")) < t.events.index(("g_extra", (4, 2), (4, 3), None))
    assert set(out) == {"loss_d", "loss_g", "loss_sq"}
    assert torch.allclose(t.stepped["G"], out["loss_g"] + 3 * out["loss_sq"])
    plain = FakeTrainer()
    UnconditionalGAN().train_step(plain)
    assert not any(isinstance(e, tuple) and e[0] == "g_extra" for e in plain.events)


def _losses(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if '"loss_d"' in line]


def test_dcgan_trains_with_mbstd_and_mode_seeking(run_cli, tmp_path):
    r = run_cli("train", "dcgan", *TINY, "--set", "mbstd=4", "--set", "mode_seeking=1",
                "--name", "div")
    assert r.exit_code == 0, r.output
    rows = _losses(tmp_path / "runs" / "div")
    assert rows and all("loss_ms" in row and row["loss_ms"] > 0 for row in rows)
    from gankit.loading import load_model

    _, config, _, nets, _ = load_model(tmp_path / "runs" / "div", nets_wanted="all")
    assert config.mbstd == 4 and any(type(m).__name__ == "MinibatchStd"
                                     for m in nets["D"].modules())
    r = run_cli("sample", "runs/div", "-n", "4", "--out", "s.png")
    assert r.exit_code == 0 and (tmp_path / "s.png").exists()


def test_conditional_dcgan_seeks_modes_by_default(run_cli, tmp_path):
    r = run_cli("train", "dcgan", *TINY, "--conditional", "--name", "cdiv")
    assert r.exit_code == 0, r.output
    assert all(row.get("loss_ms", 0) > 0 for row in _losses(tmp_path / "runs" / "cdiv"))
    r = run_cli("train", "dcgan", *TINY, "--conditional", "--set", "mode_seeking=0",
                "--name", "cnone")
    assert r.exit_code == 0, r.output
    assert not any("loss_ms" in row for row in _losses(tmp_path / "runs" / "cnone"))


@pytest.mark.parametrize("flag", ["mode_seeking=-1", "mode_seeking=nan", "mbstd=-2"])
def test_bad_values_are_refused_before_the_run_exists(run_cli, tmp_path, flag):
    r = run_cli("train", "dcgan", *TINY, "--set", flag, "--name", "bad")
    assert r.exit_code != 0 and flag.split("=")[0] in r.output
    assert not (tmp_path / "runs" / "bad").exists()


def test_defaults_have_neither(run_cli, tmp_path):
    r = run_cli("train", "dcgan", *TINY, "--name", "plain")
    assert r.exit_code == 0, r.output
    assert not any("loss_ms" in row for row in _losses(tmp_path / "runs" / "plain"))
