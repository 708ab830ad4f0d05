"""`gankit runs`: the table, JSON, sorting and filters, show, compare and clean.

Run folders are written by hand here, following the run-folder contract (config.json,
metrics.jsonl, status.json, run.lock, checkpoints/, metrics/eval-step-*.json), so
every status can be set up without training.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

NOW = time.time()


def make_run(root: Path, name: str, *, model="dcgan", steps=100, ckpts=(), status=None,
             lock=None, lr=2e-4, metrics=10, loss_shift=0.0, evals=(), started=None,
             message=None) -> Path:
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    cfg = {"gankit_run": 1, "gankit_version": "0.1.0", "model": model, "model_version": "1",
           "options": {"model": model, "dataset": "sushi", "data": None, "image_size": 32,
                       "batch_size": 8, "steps": steps, "lr": lr, "betas": [0.5, 0.999],
                       "loss": "bce", "seed": 0, "name": name, "out": str(root)},
           "model_config": {"ngf": 8, "ndf": 8},
           "data": {"kind": "image", "channels": 3, "size": 32, "dim": None, "name": "sushi"},
           "loss": "bce", "device": "cpu", "precision": "fp32"}
    (run / "config.json").write_text(json.dumps(cfg))
    lines = []
    for i in range(1, metrics + 1):
        lines.append(json.dumps({"step": i * 10, "loss_d": 1.0 + loss_shift - i * 0.01,
                                 "loss_g": 2.0 + loss_shift + (i % 3) * 0.1,
                                 "images_per_s": 100.0 + i, "wall_time": i * 2.0}))
    (run / "metrics.jsonl").write_text("".join(x + "\n" for x in lines))
    for s in ckpts:
        (run / "checkpoints" / f"step-{s:07d}.safetensors").write_bytes(b"\0" * 4096)
    if status is not None:
        (run / "status.json").write_text(json.dumps({
            "status": status, "step": max(ckpts, default=0), "total_steps": steps,
            "started": started or NOW - 600, "updated": NOW - 60, "message": message}))
    if lock is not None:
        (run / "run.lock").write_text(json.dumps(lock))
    if evals:
        (run / "metrics").mkdir()
        for step, m in evals:
            (run / "metrics" / f"eval-step-{step:07d}.json").write_text(json.dumps({
                "run": str(run), "checkpoint": f"step-{step:07d}.safetensors", "model": model,
                "step": step, "time": NOW, "samples": 500, "metrics": m,
                "feature_space": "inception"}))
    return run


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def my_lock() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": NOW - 30}


@pytest.fixture
def runs(tmp_path):
    """Six runs, one per way of getting a status."""
    root = tmp_path / "runs"
    old = make_run(root, "done-old", steps=100, ckpts=(50, 100))  # 0.1.0: completed
    # no status.json: the start is the last metrics line's time minus its wall_time (20 s)
    os.utime(old / "metrics.jsonl", (NOW - 5000, NOW - 5000))
    make_run(root, "cut-old", steps=100, ckpts=(50,))  # 0.1.0: interrupted
    make_run(root, "failed", model="wgan-gp", steps=200, ckpts=(20,), status="failed",
             message="RuntimeError: boom", started=NOW - 4000)
    make_run(root, "live", steps=300, ckpts=(30,), status="running", lock=my_lock(),
             started=NOW - 3000, lr=1e-4, metrics=25)
    make_run(root, "killed", steps=300, ckpts=(40,), status="running",
             lock={"pid": dead_pid(), "host": socket.gethostname(), "started": NOW - 2000},
             started=NOW - 2000)
    make_run(root, "nan", model="wgan-gp", steps=300, ckpts=(60,), status="diverged",
             started=NOW - 1000, evals=[(60, {"swd": 0.5, "kid": 0.1}),
                                        (30, {"swd": 0.9, "kid": 0.3})])
    return root


def _json(res):
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _one_error_line(res, code, *words):
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in res.stderr


def test_statuses_from_status_json_lock_and_checkpoints(run_cli, runs):
    got = {r["name"]: r for r in _json(run_cli("runs", "--json"))}
    assert {k: v["status"] for k, v in got.items()} == {
        "done-old": "completed", "cut-old": "interrupted", "failed": "failed",
        "live": "running", "killed": "interrupted", "nan": "diverged"}
    assert got["live"]["running_pid"] == os.getpid()
    assert "stale lock" in got["killed"]["status_note"]
    assert "no status.json" in got["done-old"]["status_note"]
    assert got["failed"]["message"] == "RuntimeError: boom"
    # steps done: the newest of checkpoints, metrics and status.json; asked: the options
    assert (got["cut-old"]["step"], got["cut-old"]["total_steps"]) == (100, 100)
    assert got["done-old"]["last_losses"] == {"loss_d": pytest.approx(0.9),
                                              "loss_g": pytest.approx(2.1)}
    assert got["done-old"]["images_per_s"] == pytest.approx(105.5)
    # the newest evaluation by step, not by file order
    assert got["nan"]["last_eval"]["step"] == 60
    assert got["nan"]["last_eval"]["metrics"] == {"swd": 0.5, "kid": 0.1}
    assert got["done-old"]["size_bytes"] > 2 * 4096
    assert got["done-old"]["started"] == pytest.approx(NOW - 5020, abs=1)


def test_table_shows_every_run_with_status_losses_and_evaluation(run_cli, runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    res = run_cli("runs")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    for name in ("done-old", "cut-old", "failed", "live", "killed", "nan"):
        assert name in out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("nan "))
    # steps: the newest of checkpoints and metrics (logged to step 100) of the 300 asked
    assert "wgan-gp" in row and "sushi" in row and "100/300" in row and "diverged" in row
    assert "kid 0.1" in row
    live = next(line for line in out.splitlines() if line.lstrip().startswith("live "))
    assert "running" in live and "250/300" in live and "d 0.75" in live and "KB" in live


def test_sort_reverse_and_filters(run_cli, runs):
    names = lambda *a: [r["name"] for r in _json(run_cli("runs", "--json", *a))]  # noqa: E731
    assert names("--sort", "time") == ["done-old", "failed", "live", "killed", "nan", "cut-old"]
    assert names("--sort", "name") == sorted(names("--sort", "name"))
    assert names("--sort", "name", "--reverse") == sorted(names(), reverse=True)
    assert names("--sort", "steps")[-1] == "live"
    assert names("--sort", "status")[0] == "live"
    assert names("--model", "wgan-gp") == ["failed", "nan"]
    assert names("--status", "interrupted", "--sort", "name") == ["cut-old", "killed"]
    assert names("--status", "running", "--status", "failed", "--sort", "name") == ["failed",
                                                                                     "live"]
    assert names("--model", "nope") == []


def test_bad_flags_are_one_line(run_cli, runs):
    _one_error_line(run_cli("runs", "--status", "finished"), 2, "--status finished", "completed")
    _one_error_line(run_cli("runs", "--sort", "size"), 2, "--sort size", "name")
    _one_error_line(run_cli("runs", "--out", "nowhere"), 2, "--out nowhere")
    _one_error_line(run_cli("runs", "show", "ghost"), 1, "ghost", "gankit runs")
    _one_error_line(run_cli("runs", "compare", "live"), 2, "at least two")
    _one_error_line(run_cli("runs", "clean", "--checkpoints", "0"), 2, "--checkpoints")


def test_show_prints_config_timings_and_metrics_summary(run_cli, runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    res = run_cli("runs", "show", "failed")
    assert res.exit_code == 0, res.stderr
    for text in ("failed", "RuntimeError: boom", "wgan-gp", "started", "last update",
                 "images/s", "105.5", "lr", "0.0002", "--set ngf", "loss_d", "loss_g"):
        assert text in res.stdout, text
    d = _json(run_cli("runs", "show", str(runs / "failed"), "--json"))
    s = d["summary"]["loss_d"]
    assert (s["first"], s["last"], s["min"], s["min_step"], s["points"]) == (
        pytest.approx(0.99), pytest.approx(0.9), pytest.approx(0.9), 100, 10)
    assert d["summary"]["loss_g"]["max"] == pytest.approx(2.2)
    assert d["options"]["lr"] == 2e-4 and d["started"] == pytest.approx(NOW - 4000)


def test_show_lists_evaluations(run_cli, runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    res = run_cli("runs", "--out", str(runs), "show", "nan")
    assert res.exit_code == 0, res.stderr
    assert "gankit evaluate" in res.stdout and "0.9" in res.stdout and "0.5" in res.stdout


def test_compare_shows_differing_options_and_metrics(run_cli, runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    d = _json(run_cli("runs", "compare", "done-old", "live", "nan", "--json"))
    diff = d["differing_settings"]
    assert diff["options.lr"] == [2e-4, 1e-4, 2e-4]
    assert diff["model"] == ["dcgan", "dcgan", "wgan-gp"]
    assert diff["options.steps"] == [100, 300, 300]
    assert "options.name" not in diff and "options.batch_size" not in diff
    assert d["metrics"]["status"] == ["completed", "running", "diverged"]
    assert d["metrics"]["swd"] == ["", "", "0.5"]
    res = run_cli("runs", "compare", "done-old", "live")
    assert res.exit_code == 0, res.stderr
    assert "settings that differ" in res.stdout and "options.lr" in res.stdout
    assert "loss_d last" in res.stdout and "0.0001" in res.stdout


def test_clean_refuses_a_run_that_is_training(run_cli, runs):
    res = run_cli("runs", "clean", "live", "--yes")
    _one_error_line(res, 1, "live", str(os.getpid()), "training now")
    assert (runs / "live" / "config.json").exists()


def test_clean_dry_run_removes_nothing(run_cli, runs):
    res = run_cli("runs", "clean", "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert "would remove failed (failed)" in res.stdout
    assert "would remove cut-old (interrupted)" in res.stdout
    assert "would remove killed (interrupted)" in res.stdout
    assert "would free" in res.stdout and "(3 runs)" in res.stdout
    assert "skipping live: training now" in res.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["cut-old", "done-old", "failed", "killed",
                                                      "live", "nan"]


def test_clean_removes_failed_runs_after_yes_and_keeps_the_rest(run_cli, runs):
    res = run_cli("runs", "clean", "--status", "failed", "--yes")
    assert res.exit_code == 0, res.stderr
    assert "remove failed (failed)" in res.stdout and "freed" in res.stdout
    freed = res.stdout.strip().splitlines()[-1]
    assert "KB" in freed and "1 run removed" in freed
    assert sorted(p.name for p in runs.iterdir()) == ["cut-old", "done-old", "killed", "live",
                                                      "nan"]


def test_clean_asks_first_and_no_keeps_everything(run_cli, runs, monkeypatch):
    from click.testing import CliRunner

    from gankit.cli import make_cli

    monkeypatch.chdir(runs.parent)
    res = CliRunner().invoke(make_cli(), ["runs", "clean"], input="n\n")
    assert res.exit_code == 1 and "Remove 3 runs" in res.stderr
    assert len(list(runs.iterdir())) == 6
    res = CliRunner().invoke(make_cli(), ["runs", "clean"], input="y\n")
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["done-old", "live", "nan"]


def test_clean_checkpoints_keeps_the_newest_k_and_spares_a_running_run(run_cli, tmp_path):
    root = tmp_path / "runs"
    a = make_run(root, "a", ckpts=(10, 20, 30, 40), status="completed")
    b = make_run(root, "b", ckpts=(10, 20, 30), status="running", lock=my_lock())
    res = run_cli("runs", "clean", "--checkpoints", "2", "--yes")
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (a / "checkpoints").iterdir()) == [
        "step-0000030.safetensors", "step-0000040.safetensors"]
    assert len(list((b / "checkpoints").iterdir())) == 3
    assert "freed 8.0 KB (2 checkpoints removed)" in res.stdout


def test_empty_folder_lists_nothing(run_cli, tmp_path):
    (tmp_path / "runs").mkdir()
    assert _json(run_cli("runs", "--json")) == []
    res = run_cli("runs")
    assert res.exit_code == 0 and "no runs under runs/" in res.stderr


def test_a_real_tiny_run_is_listed_as_completed(run_cli, tiny):
    res = run_cli("train", "dcgan", *tiny, "--steps", "2", "--log-every", "1",
                  "--sample-every", "0", "--name", "real", "--quiet")
    assert res.exit_code == 0, res.stderr
    (r,) = _json(run_cli("runs", "--json"))
    assert (r["name"], r["model"], r["status"], r["step"], r["total_steps"]) == (
        "real", "dcgan", "completed", 2, 2)
    assert set(r["last_losses"]) == {"loss_d", "loss_g"}


def test_slow_listing_reports_progress(runs, monkeypatch):
    from types import SimpleNamespace

    from gankit import runinfo

    clock = iter(range(1000))  # every reading of the clock one second later
    monkeypatch.setattr(runinfo, "time", SimpleNamespace(**{**vars(time), "perf_counter":
                                                            lambda: float(next(clock))}))
    calls = []
    runinfo.list_runs(runs, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]
