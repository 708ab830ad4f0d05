"""The hardware-facing choices: threads, precision, devices (the GPU branches with fakes)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit import engine
from gankit.errors import UsageError


def _write_cpu_max(tmp_path, text):
    (tmp_path / "cpu.max").write_text(text)
    return str(tmp_path)


def test_usable_cores_honours_a_cgroup_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert engine.usable_cores(_write_cpu_max(tmp_path, "150000 100000\n")) == 2  # 1.5 -> 2
    assert engine.usable_cores(_write_cpu_max(tmp_path, "50000 100000\n")) == 1
    assert engine.usable_cores(_write_cpu_max(tmp_path, "max 100000\n")) == 8
    assert engine.usable_cores(str(tmp_path / "missing")) == 8
    assert engine.usable_cores(_write_cpu_max(tmp_path, "garbage\n")) == 8


def test_usable_cores_honours_the_affinity(tmp_path, monkeypatch):
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert engine.usable_cores(_write_cpu_max(tmp_path, "800000 100000\n")) == 1


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_configure_threads_caps_torch_at_the_usable_cores(monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(engine, "usable_cores", lambda: 1)
    torch.set_num_threads(2)
    engine.configure_threads()
    assert torch.get_num_threads() == 1


def test_configure_threads_leaves_an_explicit_omp_num_threads(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(engine, "usable_cores", lambda: 1)
    torch.set_num_threads(2)
    engine.configure_threads()
    assert torch.get_num_threads() == 2


CONV = {"G": nn.Sequential(nn.ConvTranspose2d(4, 3, 4)), "D": nn.Sequential(nn.Conv2d(3, 1, 4))}
MLP = {"G": nn.Sequential(nn.Linear(4, 8)), "D": nn.Sequential(nn.Linear(8, 1))}


@pytest.mark.parametrize("bf16_cpu, nets, expected", [
    (True, CONV, "bf16"), (True, MLP, "fp32"), (False, CONV, "fp32"), (True, None, "fp32"),
])
def test_auto_precision_on_the_cpu(monkeypatch, bf16_cpu, nets, expected):
    monkeypatch.setattr(engine, "cpu_supports_bf16", lambda: bf16_cpu)
    assert engine.pick_precision("auto", torch.device("cpu"), nets) == expected


@pytest.mark.parametrize("bf16_gpu, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_cuda(monkeypatch, bf16_gpu, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    assert engine.pick_precision("auto", torch.device("cuda"), MLP) == expected


def test_explicit_precision_wins_and_fp16_is_refused_on_the_cpu():
    assert engine.pick_precision("fp32", torch.device("cpu"), CONV) == "fp32"
    assert engine.pick_precision("BF16", torch.device("cpu"), CONV) == "bf16"
    with pytest.raises(UsageError, match="--precision fp16"):
        engine.pick_precision("fp16", torch.device("cpu"), CONV)
    with pytest.raises(UsageError, match="choose one of"):
        engine.pick_precision("fp8", torch.device("cpu"), CONV)


def test_bf16_autocast_runs_convolutions_in_bf16_on_the_cpu():
    net = nn.Conv2d(3, 4, 3)
    with engine.autocast_factory(torch.device("cpu"), "bf16")():
        out = net(torch.randn(1, 3, 8, 8))
    assert out.dtype == torch.bfloat16
    with engine.autocast_factory(torch.device("cpu"), "fp32")():
        assert net(torch.randn(1, 3, 8, 8)).dtype == torch.float32


def test_has_conv():
    assert engine.has_conv(CONV) and not engine.has_conv(MLP)
    assert engine.has_conv(list(CONV.values()))


@pytest.mark.parametrize("cuda, mps, expected", [
    (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_auto_device_prefers_cuda_then_mps(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(engine, "is_distributed", lambda: False)
    assert engine.pick_device("auto").type == expected


def test_explicit_cuda_under_torchrun_takes_the_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(engine, "is_distributed", lambda: True)
    monkeypatch.setattr(engine, "local_rank", lambda: 1)
    assert engine.pick_device("cuda") == torch.device("cuda", 1)
    assert engine.pick_device("cuda:0") == torch.device("cuda", 0)  # an index is kept
    monkeypatch.setattr(engine, "is_distributed", lambda: False)
    assert engine.pick_device("cuda") == torch.device("cuda", 0)


def test_missing_devices_are_refused_with_the_flag(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UsageError, match="--device cuda: CUDA is not available"):
        engine.pick_device("cuda")
    with pytest.raises(UsageError, match="--device mps: Apple MPS is not available"):
        engine.pick_device("mps")
    with pytest.raises(UsageError, match="--device tpu: choose one of"):
        engine.pick_device("tpu")


@pytest.mark.parametrize("model, sets, expected", [
    ("dcgan", {"ngf": "8", "ndf": "8"}, True),
    ("cyclegan", {"ngf": "8", "ndf": "8", "n_blocks": "1"}, False),  # the model opts out
])
def test_channels_last_follows_the_models_preference(tmp_path, model, sets, expected):
    from gankit.train import TrainOptions
    from kit import prepare

    t = prepare(TrainOptions(model=model, image_size=32, batch_size=2, steps=1, device="cpu",
                             out=str(tmp_path), name="t", sample_every=0), sets=sets)
    assert t.channels_last is expected
    conv = next(m for n in t.nets.values() for m in n.modules()
                if isinstance(m, nn.modules.conv._ConvNd) and m.weight.shape[-1] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is expected
    assert t.next_batch().is_contiguous(memory_format=torch.channels_last) is expected


def test_fp16_gradient_scaler_path_trains_and_resumes(tmp_path, monkeypatch):
    """The CUDA-without-bf16 path (fp16 autocast + GradScaler), run on the CPU, where
    torch supports both: the scaler steps every optimizer and its state is checkpointed."""
    from gankit.train import TrainOptions
    from kit import prepare

    monkeypatch.setattr(engine, "pick_precision", lambda *a, **k: "fp16")

    def opts(steps):
        return TrainOptions(model="dcgan", image_size=32, batch_size=4, steps=steps, device="cpu",
                            out=str(tmp_path), name="f", sample_every=0, log_every=1)

    t = prepare(opts(2), sets={"ngf": "8", "ndf": "8"})
    assert t.precision == "fp16" and t.scaler is not None
    before = {k: v.clone() for k, v in t.nets["G"].state_dict().items()}
    t.fit()
    assert all(torch.isfinite(torch.tensor(list(t.last_metrics.values()))))
    assert any(not torch.equal(before[k], v) for k, v in t.nets["G"].state_dict().items())
    t.scaler.update(new_scale=1024.0)  # a scale the checkpoint must carry over
    t.save_checkpoint()
    scale = t.scaler.get_scale()
    assert scale == 1024.0
    resumed = prepare(opts(3), sets={"ngf": "8", "ndf": "8"}, explicit={"steps"},
                      resume=str(t.run_dir))
    assert resumed.scaler.get_scale() == scale
    resumed.fit()
    assert resumed.step == 3
