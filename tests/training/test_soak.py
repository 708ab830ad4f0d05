"""Crash safety, short form of benchmarks/soak.py (the long form kills 24 times).

A tiny training subprocess is killed with SIGKILL three times (once the moment a
checkpoint temp file appears, i.e. inside the checkpoint write; once at a random
step; once at a random time after launch) and resumed each time; then SIGTERM and
SIGINT must write a final checkpoint and exit 143 and 130; then the run must end at
the asked step with a clean metrics.jsonl. See the script's docstring for every
check. The kill schedule is random; a failure prints its seed
(``GANKIT_SOAK_SEED=N`` replays it).
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from kit import ROOT

SCRIPT = ROOT / "benchmarks" / "soak.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("gankit_soak", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gankit_soak"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_soak_short(tmp_path):
    soak = load_soak()
    seed = int(os.environ.get("GANKIT_SOAK_SEED") or random.randrange(1 << 30))
    events = []
    s = soak.Soak(tmp_path, kills=3, steps=None, seed=seed, log=events.append)
    try:
        stats = s.run_all(compare=False)
    except soak.SoakFailure as exc:
        pytest.fail(f"soak failed with GANKIT_SOAK_SEED={seed}: {exc}\n" + "\n".join(events))
    assert stats["kills"] == 3 and stats["kinds"] == {"write": 1, "random": 1, "early": 1}
    assert stats["max_steps_lost"] <= soak.CHECKPOINT_EVERY
    assert any("SIGTERM" in e and "exit 143" in e for e in events), events
    assert any("SIGINT" in e and "exit 130" in e for e in events), events
    assert events[-1].startswith(f"finished at step {stats['steps']}")


def test_stale_temp_files_are_removed_when_training_restarts(tmp_path):
    """What a SIGKILL inside atomic_write leaves behind is deleted by the next fit()."""
    from gankit import checkpoints as ckpt

    run = tmp_path / "run"
    for sub in ("checkpoints", "samples"):
        (run / sub).mkdir(parents=True)
    junk = [run / "checkpoints" / ".step-0000004.safetensors.a1b2c3.tmp",
            run / "samples" / ".step-000004.png.x9y8.tmp",
            run / ".metrics.jsonl.k2j3.tmp"]
    keep = [run / "checkpoints" / "step-0000002.safetensors", run / "notes.tmp",
            run / "metrics.jsonl"]
    for p in junk + keep:
        p.write_bytes(b"partial")
    removed = ckpt.remove_stale_temps(run)
    assert sorted(removed) == sorted(junk)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in junk)


def test_atomic_write_killed_midway_keeps_the_old_file(tmp_path):
    """A writer that dies half-way (here: raises) leaves the previous file intact."""
    from gankit import files

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def half(tmp):
        Path(tmp).write_bytes(b"ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(target, half)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_signals_documented():
    text = (ROOT / "docs" / "reliability.md").read_text()
    assert f"{128 + signal.SIGINT}" in text and f"{128 + signal.SIGTERM}" in text
