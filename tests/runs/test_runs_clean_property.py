"""`gankit runs clean` never removes a file gankit did not write, and its dry run lists
exactly what the real run removes.

Random trees under --out (fixed seeds, the standard library's ``random``): gankit runs
of every status with the files gankit writes, user files dropped anywhere in them, and
look-alikes (a user's config.json, an empty checkpoints/ folder, gankit's config keys
without anything else gankit writes, files named like checkpoints). Each tree is cleaned
with random flags; every case checks both promises. ``GANKIT_CLEAN_SEED=N`` replays one.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from gankit.cli import make_cli

CASES = int(os.environ.get("GANKIT_CLEAN_CASES", "60"))
STATUSES = ("completed", "interrupted", "failed", "diverged", "running", None)


def gankit_checkpoint_bytes() -> bytes:
    """A small file with a gankit safetensors header (enough to be recognised)."""
    header = json.dumps({"__metadata__": {"gankit.format": "1"}}).encode()
    return struct.pack("<Q", len(header)) + header


def user_files(rng, folder: Path, made: set, root: Path) -> None:
    for _ in range(rng.randint(0, 3)):
        sub = folder / rng.choice(["", "checkpoints", "samples", "notes", "metrics"])
        sub.mkdir(parents=True, exist_ok=True)
        name = rng.choice(["notes.txt", "photo.jpg", "step-1.png", "config.json.bak",
                           "mine.safetensors", "README", "eval.json", ".notes.tmp",
                           "step-12.safetensors", ".x.abcdefgh.tmp"])
        p = sub / name
        if not p.exists():
            p.write_text("user data")
            made.add(str(p.relative_to(root)))


def make_tree(rng, root: Path) -> tuple[set, set]:
    """(files gankit wrote, files it did not), as paths relative to ``root``."""
    ours, theirs = set(), set()

    def write(p: Path, data, mine: bool):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        (ours if mine else theirs).add(str(p.relative_to(root)))

    for i in range(rng.randint(1, 6)):
        d = root / f"f{i}"
        kind = rng.choice(["run", "run", "legacy", "userconfig", "photos", "keys-only",
                           "named-like"])
        if kind in ("run", "legacy"):
            cfg = {"gankit_version": "0.2.0", "model": "dcgan", "options": {"steps": 10}}
            if kind == "run":
                cfg = {"gankit_run": 1, **cfg}
            write(d / "config.json", json.dumps(cfg), True)
            status = rng.choice(STATUSES)
            if kind == "legacy" and status is None:
                status = "failed"  # a 0.2 run is known by its status.json or checkpoints
            if status is not None:
                write(d / "status.json", json.dumps({"status": status, "step": 4}), True)
            if status == "running" and rng.random() < 0.5:
                write(d / "run.lock", json.dumps({"pid": os.getpid(),
                                                  "host": socket.gethostname()}), True)
            for s in rng.sample(range(1, 20), rng.randint(0, 4)):
                write(d / "checkpoints" / f"step-{s:07d}.safetensors", gankit_checkpoint_bytes(),
                      True)
            if rng.random() < 0.7:
                write(d / "metrics.jsonl", '{"step": 1, "loss_d": 1.0}\n', True)
            for s in rng.sample(range(1, 20), rng.randint(0, 2)):
                write(d / "samples" / f"step-{s:06d}.png", b"png", True)
            if rng.random() < 0.3:
                write(d / "metrics" / "eval-step-0000004.json", "{}", True)
            if rng.random() < 0.3:
                write(d / "directions" / "smile.safetensors", b"x", True)
            if rng.random() < 0.3:  # a killed atomic write's temporary file
                write(d / "checkpoints" / ".step-0000009.safetensors.k3x_9a2b.tmp", b"torn", True)
            user_files(rng, d, theirs, root)
        elif kind == "userconfig":
            write(d / "config.json", "{}", False)
            write(d / "notes.txt", "x", False)
        elif kind == "photos":
            (d / "checkpoints").mkdir(parents=True)
            write(d / "a.jpg", b"jpeg", False)
        elif kind == "keys-only":  # gankit's keys, nothing else gankit writes
            write(d / "config.json", json.dumps({"gankit_version": "0.2.0", "model": "dcgan",
                                                 "options": {}}), False)
            write(d / "checkpoints" / "step-0000001.safetensors", b"\0" * 32, False)
            write(d / "metrics.jsonl", '{"step": 1}\n', False)
        else:  # named like a run's files, no config.json
            write(d / "status.json", json.dumps({"status": "failed"}), False)
            write(d / "checkpoints" / "step-0000002.safetensors", gankit_checkpoint_bytes(), False)
    return ours, theirs


def files_under(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}


def flags(rng, root: Path) -> list[str]:
    pick = rng.random()
    if pick < 0.3:
        return ["--checkpoints", str(rng.randint(1, 3))]
    if pick < 0.7:
        return [x for s in rng.sample(["completed", "interrupted", "failed", "diverged"],
                                      rng.randint(1, 3)) for x in ("--status", s)]
    names = sorted(p.name for p in root.iterdir())
    return rng.sample(names, min(len(names), rng.randint(1, 2)))


@pytest.mark.parametrize("case", range(CASES))
def test_clean_removes_only_gankit_files_and_as_the_dry_run_says(case, tmp_path, monkeypatch):
    from gankit.runclean import plan_clean
    from gankit.runinfo import find_runs, load_run

    seed = int(os.environ.get("GANKIT_CLEAN_SEED", case))
    rng = random.Random(seed)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs"
    root.mkdir()
    ours, theirs = make_tree(rng, root)
    args = flags(rng, root)
    before = files_under(root)
    assert before == ours | theirs

    dry = CliRunner().invoke(make_cli(), ["runs", "clean", "--dry-run", *args])
    assert "Traceback" not in dry.output, dry.output
    assert files_under(root) == before, "the dry run removed something"
    # the plan the dry run printed, file by file
    keep = int(args[1]) if args[:1] == ["--checkpoints"] else None
    statuses = tuple(args[i + 1] for i, a in enumerate(args) if a == "--status")
    targets = [a for a in args if not a.startswith("--") and a not in statuses
               and not (keep is not None and a == str(keep))]
    if dry.exit_code != 0:  # a target that is not a run: refused, nothing removed
        assert targets, dry.output
        real = CliRunner().invoke(make_cli(), ["runs", "clean", "-y", *args])
        assert real.exit_code == dry.exit_code and files_under(root) == before
        return
    rel = Path("runs")  # as the command sees it (--out's default)
    listed = CliRunner().invoke(make_cli(), ["runs", "clean", "--dry-run", "--json", *args])
    assert listed.exit_code == 0, listed.output
    planned = {str(Path(f).relative_to(rel)) for f in json.loads(listed.stdout)["remove"]}
    assert files_under(root) == before
    infos = ([load_run(rel / t, size=False) for t in targets] if targets
             else [load_run(d, size=False) for d in find_runs(rel)])
    plan, _ = plan_clean(rel, checkpoints_keep=keep, runs=infos,
                         statuses=statuses or ("interrupted", "failed"))
    for item in plan:  # every planned run or checkpoint is named in the dry run's text too
        assert (item.run if item.what == "run" else str(item.path)) in dry.stdout

    real = CliRunner().invoke(make_cli(), ["runs", "clean", "-y", *args])
    assert real.exit_code == 0, real.output
    removed = before - files_under(root)
    assert removed <= ours, f"seed {seed}: removed files gankit did not write: " \
                            f"{sorted(removed - ours)}"
    assert removed == planned, f"seed {seed}: the dry run said {sorted(planned)}, " \
                               f"the real run removed {sorted(removed)}"
    assert theirs <= files_under(root)
