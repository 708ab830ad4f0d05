"""The benchmark harness runs end to end in its short mode and prints its ratios.

No timing is asserted: speed claims come from running the script, not from tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from kit import ROOT

SCRIPT = ROOT / "benchmarks" / "train_throughput.py"


def test_short_mode_runs_and_prints_its_ratios(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", GANKIT_LOAD_PLUGINS="")
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, str(SCRIPT), "--short", "--json", str(out)],
                       capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    text = p.stdout
    # gankit against the pytorch/examples-style loop, and against a bare loop with its levers
    assert re.search(r"^ratio gankit / bare \[none\] = \d+\.\d\d$", text, re.M), text
    # the default recipe has EMA and augmentation, which the bare loops lack: the
    # same-levers ratio is gankit without them
    assert re.search(r"^ratio gankit \[ema=0,augment=none\] / bare \[all\] \(same levers\) = "
                     r"\d+\.\d{3}", text, re.M), text
    assert "FLOPs per image" in text and "of the measured fp32 peak" in text
    assert re.search(r"Batcher [\d,.]+ images/s = \d+x the training step", text)
    assert re.search(r"gankit --help [\d.]+ s, gankit list-models [\d.]+ s, gankit sample", text)
    res = json.loads(out.read_text())
    rows = res["train"][0]["rows"]
    assert [r["label"] for r in rows] == ["gankit", "gankit [ema=0,augment=none]", "bare [none]",
                                          "bare [all]"]
    assert all(r["images_per_s"] > 0 for r in rows)
    assert res["train"][0]["flops_per_image"] > 0
    assert not any(tmp_path.glob("runs")), "the benchmark must not leave runs behind"


QUALITY = SCRIPT.with_name("small_data_quality.py")


def test_quality_comparison_at_equal_wall_clock(tmp_path):
    """--minutes stops every recipe with SIGINT (a checkpoint, then exit), --parallel runs
    them at once, @MODEL picks a recipe's model; each run is scored and drawn."""
    env = dict(os.environ, GANKIT_LOAD_PLUGINS="")
    tiny = "--set ngf=8 --set ndf=8 --batch-size 8 --set z_dim=8"
    out = tmp_path / "q"
    p = subprocess.run(
        [sys.executable, str(QUALITY), "--image-size", "32", "--minutes", "0.4", "--parallel",
         "--samples", "64", "--grid", "4", "--out", str(out), "--picture",
         str(tmp_path / "side.png"), "--json", str(tmp_path / "q.json"),
         "--recipe", f"plain=--ema 0 --augment none {tiny}",
         "--recipe", f"other=@dcgan {tiny}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = json.loads((tmp_path / "q.json").read_text())
    assert [(r["recipe"], r["model"]) for r in rows] == [("plain", "dcgan"), ("other", "dcgan")]
    for r in rows:
        assert r["step"] >= 1 and r["train_s"] < 120
        assert r["swd"] > 0 and 0 <= r["memorisation"] <= 1
        status = json.loads((out / r["recipe"] / "status.json").read_text())
        assert status["status"] == "interrupted"  # stopped by the budget, not by --steps
    assert "0.4 minutes each" in p.stdout and "| plain | dcgan |" in p.stdout
    assert (tmp_path / "side.png").stat().st_size > 0
