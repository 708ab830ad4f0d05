"""The benchmark harness runs end to end in its short mode and prints its ratios.

No timing is asserted: speed claims come from running the script, not from tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


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
