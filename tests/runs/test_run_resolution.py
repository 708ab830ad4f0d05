"""The one rule by which every command decides which run a name or path means
(`gankit.Run.locate` / `Run.find`, docs/reliability.md "Which run a name means"), and
what makes a folder a run. Folders are written by hand; no torch."""

from __future__ import annotations

import json
import struct

import pytest

from gankit import GankitError, Run


def gankit_header() -> bytes:
    header = json.dumps({"__metadata__": {"gankit.format": "1"}}).encode()
    return struct.pack("<Q", len(header)) + header


def make(folder, *, marked=True, legacy_ckpt=False, status=None, steps=(2,)):
    folder.mkdir(parents=True)
    cfg = {"gankit_version": "0.2.0", "model": "dcgan", "options": {}}
    (folder / "config.json").write_text(json.dumps({"gankit_run": 1, **cfg} if marked else cfg))
    for s in steps:
        p = folder / "checkpoints" / f"step-{s:07d}.safetensors"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(gankit_header() if legacy_ckpt or marked else b"\0" * 16)
    if status:
        (folder / "status.json").write_text(json.dumps({"status": status}))
    return folder


def test_what_a_run_is(tmp_path):
    assert Run.recognise(make(tmp_path / "new")) == "marked"
    assert Run.recognise(make(tmp_path / "old", marked=False, legacy_ckpt=True)) == "legacy"
    assert Run.recognise(make(tmp_path / "old2", marked=False, status="failed")) == "legacy"
    assert Run.recognise(make(tmp_path / "keys", marked=False)) is None  # keys alone
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "config.json").write_text("{}")
    (tmp_path / "user" / "checkpoints").mkdir()
    assert not Run.is_run(tmp_path / "user")
    (tmp_path / "nan").mkdir()
    (tmp_path / "nan" / "config.json").write_text('{"gankit_run": NaN}')
    assert not Run.is_run(tmp_path / "nan")


def test_the_resolution_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs"
    a = make(root / "a", steps=(2, 4))
    make(root / "b")
    loc = Run.locate("a", "runs")  # a bare name: the run under --out
    assert loc.kind == "run" and loc.run.path == root.relative_to(tmp_path) / "a"
    loc = Run.locate(str(a / "checkpoints" / "step-0000002.safetensors"), "runs")
    assert loc.kind == "checkpoint" and loc.run.path == a and loc.checkpoint.name.endswith(
        "0000002.safetensors")
    assert Run.locate("runs", "elsewhere").kind == "runs"  # a folder of runs: its newest
    (tmp_path / "loose.safetensors").write_bytes(gankit_header())
    loc = Run.locate("loose.safetensors", "runs")
    assert loc.kind == "checkpoint" and loc.run is None
    with pytest.raises(GankitError, match="a checkpoint outside any run folder"):
        Run.find("loose.safetensors", "runs")
    with pytest.raises(GankitError, match="a folder of runs"):
        Run.find("runs", "elsewhere")
    make(tmp_path / "a")  # ./a is a run too: the bare name is ambiguous
    with pytest.raises(GankitError, match="ambiguous"):
        Run.locate("a", "runs")
    assert Run.find("./a", "runs").path.resolve() == (tmp_path / "a").resolve()
    assert Run.find("runs/a", "runs").path.resolve() == a.resolve()
    (a / "checkpoints" / "notes.txt").write_text("x")
    with pytest.raises(GankitError, match="not a checkpoint of"):
        Run.locate("runs/a/checkpoints/notes.txt", "runs")
    with pytest.raises(GankitError, match="no such run"):
        Run.locate("ghost", "runs")
    with pytest.raises(GankitError, match="not a gankit run"):
        Run.locate(str(tmp_path / "runs" / ".." / "runs" / "a" / "checkpoints"), "runs")
