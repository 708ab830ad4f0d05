"""A run folder belongs to one run; --resume --override really changes what it says.

Every override is checked by its effect on the resumed trainer (the optimizer's learning
rate, the batches drawn, the files written), not by what config.json records.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from gankit import GankitError
from gankit.run import Run
from gankit.train import TrainOptions, Trainer, plan

SETS = {"ngf": "8", "ndf": "8"}


def opts(tmp_path, **kw):
    base = dict(model="dcgan", image_size=32, batch_size=8, steps=4, out=str(tmp_path / "runs"),
                name="r", sample_every=0, checkpoint_every=2, log_every=2, grid=4, seed=1,
                device="cpu")
    base.update(kw)
    return TrainOptions(**base)


def trained(tmp_path, sets=SETS, **kw):
    t = Trainer.from_plan(plan(opts(tmp_path, **kw), sets=sets))
    t.fit()
    return t


def resumed(run_dir, *, override=True, sets=None, **changes):
    o = TrainOptions(model=None, **{k: v for k, v in changes.items()})
    return Trainer.from_plan(plan(o, sets=sets or {}, explicit=set(changes) | set(sets or {}),
                                  resume=str(run_dir), override=override))


# -- --override takes effect ----------------------------------------------------------------


def test_override_lr_reaches_the_optimizers(tmp_path):
    t = trained(tmp_path)
    old = {k: [g["lr"] for g in o.param_groups] for k, o in t.opts.items()}
    r = resumed(t.run_dir, lr=1e-3, steps=6)
    for k, opt in r.opts.items():
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3] * len(old[k]))
    before = {k: p.detach().clone() for k, p in r.nets["G"].named_parameters()}
    r.fit()
    moved = max((p.detach() - before[k]).abs().max().item()
                for k, p in r.nets["G"].named_parameters())
    assert moved > 0


def test_override_betas_reach_the_optimizers(tmp_path):
    t = trained(tmp_path)
    r = resumed(t.run_dir, betas=(0.0, 0.9))
    assert all(g["betas"] == (0.0, 0.9) for o in r.opts.values() for g in o.param_groups)


def test_override_lr_keeps_a_schedule_position(tmp_path):
    t = trained(tmp_path, sets={}, model="vanilla", dataset="ring8", image_size=None,
                batch_size=16, extra={"decay_from": 0})
    before = [g["lr"] for g in t.opts["G"].param_groups]
    r = resumed(t.run_dir, lr=t.options.lr * 2, steps=8)
    after = [g["lr"] for g in r.opts["G"].param_groups]
    assert after == pytest.approx([2 * b for b in before])  # same point of the decay


def test_override_batch_size_changes_the_batches(tmp_path):
    t = trained(tmp_path)
    r = resumed(t.run_dir, batch_size=4)
    assert r.next_batch().shape[0] == 4


def test_override_steps_and_cadence(tmp_path):
    t = trained(tmp_path)
    r = resumed(t.run_dir, override=False, steps=8, checkpoint_every=3, sample_every=4)
    r.fit()
    names = sorted(p.name for p in r.run.checkpoints())
    assert "step-0000006.safetensors" in names and "step-0000008.safetensors" in names
    # the first run's last step, then the new cadence (4 was done) and the last step
    assert [s for s, _ in r.run.sample_grids()] == [4, 8]


def test_override_a_model_option(tmp_path):
    t = trained(tmp_path, sets={}, model="vanilla", dataset="ring8", image_size=None,
                batch_size=16)
    r = resumed(t.run_dir, sets={"slope": "0.2"})
    slopes = {m.negative_slope for m in r.nets["G"].modules()
              if isinstance(m, torch.nn.LeakyReLU)}
    assert r.config.slope == 0.2 and slopes == {0.2}


def test_override_ema_and_augmentation(tmp_path):
    t = trained(tmp_path, ema=0, augment="none")
    assert not t.ema and t.augment is None
    r = resumed(t.run_dir, ema=5.0, augment="translation")
    assert set(r.ema) == {"G"} and r.augment is not None
    # the average starts from the resumed weights, not from the fresh initialisation
    for (k, a), b in zip(r.nets["G"].state_dict().items(), r.ema["G"].module.state_dict().values()):
        assert torch.equal(a, b), k


def test_guard_restores_the_newest_checkpoint_before_the_bad_step(tmp_path):
    t = trained(tmp_path, steps=6, checkpoint_every=2, keep_last=0)
    r = Trainer.from_plan(plan(TrainOptions(model=None), resume=str(
        t.run_dir / "checkpoints" / "step-0000002.safetensors")))
    assert r.step == 2
    r.step = 3  # diverged at step 3, while checkpoints 4 and 6 (newer) exist
    r.guard.recover()
    assert r.step == 2


# -- a run folder belongs to one run ----------------------------------------------------------


def test_existing_name_is_refused_and_left_alone(tmp_path, run_cli, tiny):
    t = trained(tmp_path)
    before = {p: p.read_bytes() for p in t.run_dir.rglob("*") if p.is_file()}
    res = run_cli("train", "dcgan", *tiny, "--steps", "2", "--out", tmp_path / "runs",
                  "--name", "r")
    assert res.exit_code == 1 and "--resume" in res.stderr and "Traceback" not in res.stderr
    assert {p: p.read_bytes() for p in t.run_dir.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("name", ["../x", "/tmp/abs", "a/b", "..", ".", ""])
def test_name_is_a_plain_folder_name(tmp_path, run_cli, tiny, name):
    res = run_cli("train", "dcgan", *tiny, "--steps", "1", "--out", tmp_path / "runs",
                  "--name", name)
    assert res.exit_code == 2 and "--name" in res.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "runs" / "a").exists()


def test_loose_checkpoint_is_not_resumed_in_place(tmp_path, run_cli):
    t = trained(tmp_path)
    loose = tmp_path / "elsewhere"
    loose.mkdir()
    (loose / "config.json").write_text("{}")
    (loose / "metrics.jsonl").write_text('{"step": 100}\n')
    src = t.run.checkpoints()[-1]
    (loose / src.name).write_bytes(src.read_bytes())
    res = run_cli("train", "--resume", loose / src.name, "--steps", "6")
    assert res.exit_code == 1 and "not a checkpoint inside a run folder" in res.stderr
    assert (loose / "config.json").read_text() == "{}"
    assert (loose / "metrics.jsonl").read_text() == '{"step": 100}\n'


def test_a_live_lock_refuses_a_second_process(tmp_path, run_cli):
    t = trained(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        t.run.lock_path.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                               "started": 0}))
        res = run_cli("train", "--resume", t.run_dir, "--steps", "6")
        assert res.exit_code == 1 and f"process {sleeper.pid}" in res.stderr
        assert Run(t.run_dir).status()["status"] == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
    # the holder is gone: its lock is stale and taken over
    res = run_cli("-q", "train", "--resume", t.run_dir, "--steps", "6")
    assert res.exit_code == 0, res.stderr
    assert not t.run.lock_path.exists()
    assert Run(t.run_dir).status() == {"status": "completed", "step": 6, "total_steps": 6,
                                       "message": None}


def test_status_records_how_a_run_ended(tmp_path):
    t = trained(tmp_path)
    st = json.loads(t.run.status_path.read_text())
    assert st["status"] == "completed" and st["step"] == 4 and st["total_steps"] == 4
    assert not t.run.lock_path.exists()


def test_pruning_keeps_the_checkpoint_just_written(tmp_path):
    run = Run(tmp_path / "r")
    run.checkpoints_dir.mkdir(parents=True)
    for s in (2, 4, 6):
        run.checkpoint_path(s).write_bytes(b"x")
    # a checkpoint of an older step written after newer ones (resumed from step 2)
    run.prune(1, keep=[run.checkpoint_path(2)])
    assert run.checkpoint_path(2).exists() and run.checkpoint_path(6).exists()
    assert not run.checkpoint_path(4).exists()


def test_lock_is_taken_over_from_a_dead_process(tmp_path):
    run = Run(tmp_path)
    run.lock_path.write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": socket.gethostname()}))
    assert run.lock_holder() is None
    run.lock()
    assert json.loads(run.lock_path.read_text())["pid"] == os.getpid()
    run.unlock()
    assert not run.lock_path.exists()


def test_plan_refuses_a_name_in_use(tmp_path):
    trained(tmp_path)
    with pytest.raises(GankitError, match="already holds a run"):
        plan(opts(tmp_path), sets=SETS)


# -- gankit.load_run ------------------------------------------------------------------------


def test_load_run_gives_every_network_the_ema_and_the_options(tmp_path):
    import gankit

    t = trained(tmp_path, ema=5.0)
    r = gankit.load_run(t.run_dir)
    assert set(r.nets) == {"G", "D"} and set(r.ema) == {"G"}
    assert r.options.batch_size == 8 and r.spec.size == 32 and r.run.path == t.run_dir
    for k, v in t.nets["D"].state_dict().items():
        assert torch.equal(r.nets["D"].state_dict()[k], v)
    for k, v in t.ema["G"].module.state_dict().items():
        assert torch.equal(r.ema["G"].state_dict()[k], v)
        assert torch.equal(r.generators["G"].state_dict()[k], v)
    assert not r.nets["G"].training and not r.ema["G"].training


def test_load_run_of_a_damaged_file_is_one_error(tmp_path):
    import gankit

    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(gankit.CheckpointError, match="x.safetensors"):
        gankit.load_run(bad)
