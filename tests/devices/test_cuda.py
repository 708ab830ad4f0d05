"""On a CUDA GPU: a tiny training run with bf16 autocast, and sampling.

Marked ``cuda`` and skipped (with the reason) where ``torch.cuda.is_available()`` is
False. ``GANKIT_CUDA_TEST_DEVICE=cpu`` runs the same code on the CPU (what
``benchmarks/device_check.sh --dry-run`` does, so the script's path is exercised in CI);
``pytest -m cuda`` selects only these tests.
"""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

DEVICE = os.environ.get("GANKIT_CUDA_TEST_DEVICE", "cuda")
HAVE = DEVICE == "cpu" or torch.cuda.is_available()

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not HAVE, reason="needs a CUDA GPU (torch.cuda.is_available() is "
                                        "False); GANKIT_CUDA_TEST_DEVICE=cpu runs these on "
                                        "the CPU"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two steps of a tiny DCGAN on the device in bf16, and its weights before training."""
    from gankit.train import TrainOptions
    from kit import prepare

    out = tmp_path_factory.mktemp("runs")
    t = prepare(TrainOptions(model="dcgan", image_size=32, batch_size=8, steps=2, log_every=1,
                             sample_every=2, checkpoint_every=0, device=DEVICE,
                             precision="bf16", out=str(out), name="dev"),
                sets={"ngf": "8", "ndf": "8"})
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in t.nets.items()}
    if t.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(t.device)
    t.fit()
    peak = torch.cuda.max_memory_allocated(t.device) if t.device.type == "cuda" else None
    return t, before, peak


def test_tiny_training_step_with_bf16_autocast(trained):
    t, before, peak = trained
    assert t.device.type == torch.device(DEVICE).type and t.precision == "bf16"
    for k, net in t.nets.items():
        params = list(net.parameters())
        assert all(p.device.type == t.device.type for p in params)
        assert all(torch.isfinite(p).all() for p in params), k
        assert any(not torch.equal(p, b) for p, b in zip(params, before[k])), f"{k} did not train"
    # autocast really runs G in bf16 (and the step above ran under the same context)
    z = t.latent(4)
    with torch.no_grad(), t.autocast():
        assert t.nets["G"](z).dtype == torch.bfloat16
    lines = [json.loads(x) for x in (t.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2]
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in lines)
    if peak is not None:
        assert peak > 0


def test_sample_on_the_device_matches_the_cpu(trained):
    from gankit import load_model
    from gankit.latent import latents_for_seeds
    from gankit.sampling import generate

    t, _, _ = trained
    model, config, _, nets, _ = load_model(t.run_dir, device=DEVICE)
    assert next(nets["G"].parameters()).device.type == torch.device(DEVICE).type
    z = latents_for_seeds(model, config, range(6), DEVICE)
    x = generate(model, nets, z)
    assert x.shape == (6, 3, 32, 32) and torch.isfinite(x).all()
    model_c, config_c, _, nets_c, _ = load_model(t.run_dir, device="cpu")
    x_cpu = generate(model_c, nets_c, latents_for_seeds(model_c, config_c, range(6), "cpu"))
    # cuDNN convolutions may use TF32 (10-bit mantissa) by default: a looser match on a GPU
    atol = 2e-3 if torch.device(DEVICE).type == "cpu" else 3e-2
    assert torch.allclose(x, x_cpu, atol=atol), (x - x_cpu).abs().max()


def test_sample_command_on_the_device(trained, run_cli):
    t, _, _ = trained
    res = run_cli("sample", str(t.run_dir), "-n", "4", "--device", DEVICE, "--out", "s.png",
                  "--quiet")
    assert res.exit_code == 0, res.stderr
    from PIL import Image

    with Image.open("s.png") as im:
        assert im.size[0] > 32
