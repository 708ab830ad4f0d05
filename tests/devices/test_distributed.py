"""The same training under torchrun: 2 CPU processes (Gloo), gradients averaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, os, sys
from gankit.train import TrainOptions, Trainer, plan

t = Trainer.from_plan(plan(TrainOptions(model="dcgan", image_size=32, batch_size=8, steps=4,
                                        log_every=2, checkpoint_every=2, sample_every=4,
                                        device="cpu", out=sys.argv[1]),
                           sets={"ngf": "8", "ndf": "8"}))
first = t.batcher.perm[:8].tolist()
t.fit()
total = sum(float(p.double().sum()) for n in t.nets.values() for p in n.parameters())
with open(os.path.join(sys.argv[1], f"rank{t.rank}.json"), "w") as fh:
    json.dump({"weights": total, "first_batch": first, "run": str(t.run_dir)}, fh)
"""


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed beside this Python")
def test_two_processes_train_in_lockstep(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "runs"
    env = dict(os.environ, GANKIT_LOAD_PLUGINS="", OMP_NUM_THREADS="1")
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    res = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(script), str(out)],
                         capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert r0["run"] == r1["run"]  # one run folder for both
    assert r0["first_batch"] != r1["first_batch"]  # each process sees its own batches
    assert r0["weights"] == r1["weights"]  # averaged gradients keep the weights identical
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    lines = (runs[0] / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 4]  # written once, by rank 0
    assert sorted(p.name for p in (runs[0] / "checkpoints").iterdir()) == [
        "step-0000002.safetensors", "step-0000004.safetensors"]
