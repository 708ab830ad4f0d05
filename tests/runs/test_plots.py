"""`gankit plot` and the in-training samples/losses.png (the built-in plots plugin)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from gankit_plots import render


def write_metrics(run, n=40, shift=0.0, evals=()):
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"gankit_run": 1, "model": "dcgan"}))
    with open(run / "metrics.jsonl", "w") as fh:
        for i in range(1, n + 1):
            fh.write(json.dumps({"step": 5 * i, "loss_d": 1.2 + shift - 0.01 * i,
                                 "loss_g": 0.8 + shift + 0.3 * math.sin(i), "loss_gp": 0.1,
                                 "images_per_s": 90 + i % 7, "wall_time": float(i)}) + "\n")
        fh.write('{"step": 999, "loss_d": ')  # a torn last line is skipped
    if evals:
        (run / "metrics").mkdir()
        for step, v in evals:
            (run / "metrics" / f"eval-step-{step:07d}.json").write_text(json.dumps(
                {"run": str(run), "checkpoint": "c", "model": "dcgan", "step": step,
                 "time": 0.0, "samples": 100, "metrics": {"swd": v, "kid": v / 10},
                 "feature_space": "inception"}))
    return run


def _pixels(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB")).astype(np.int64)


def _not_blank(px):
    return px.std() > 5  # a blank (one-colour) image has 0


def _has_color(px, rgb, tol=12):
    return bool((np.abs(px - np.array(rgb)).max(axis=2) <= tol).sum() > 50)


def test_ema_is_debiased_and_skips_non_finite_values():
    assert render.ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    out = render.ema([0.0, float("nan"), 10.0], 0.5)
    assert out[0] == 0.0 and math.isnan(out[1]) and out[2] == pytest.approx(10 / 1.5)
    assert render.ema([1.0, 5.0], 0.0) == [1.0, 5.0]
    with pytest.raises(ValueError):
        render.ema([1.0], 1.0)


def test_nice_ticks_are_round_and_cover_the_range():
    assert render.nice_ticks(0.03, 0.97) == pytest.approx([0.25, 0.5, 0.75])
    assert render.nice_ticks(0, 1000) == [0, 250, 500, 750, 1000]


def test_panels_hold_every_loss_images_per_s_and_evaluations(tmp_path):
    a = write_metrics(tmp_path / "a", evals=[(100, 0.5), (50, 0.9)])
    panels = render.build_panels([("a", render.read_metrics(a), render.read_evals(a))], 0.6)
    titles = [p.title.split(" ")[0] for p in panels]
    assert titles == ["loss_d", "loss_g", "loss_gp", "images/s", "gankit", "gankit"]
    assert panels[-2].title == "gankit evaluate: swd"
    assert panels[-2].curves[0].steps == [50, 100] and panels[-2].curves[0].values == [0.9, 0.5]
    d = panels[0].curves[0]
    assert len(d.steps) == 40 and d.smoothed == pytest.approx(render.ema(d.values, 0.6))


def test_plot_writes_one_png_with_a_colour_per_run(run_cli, tmp_path):
    write_metrics(tmp_path / "runs" / "first")
    write_metrics(tmp_path / "runs" / "second", shift=0.5, evals=[(100, 0.3)])
    res = run_cli("plot", "first", "runs/second", "--out", "cmp.png")
    assert res.exit_code == 0, res.stderr
    assert "wrote cmp.png (2 runs)" in res.stderr
    px = _pixels(tmp_path / "cmp.png")
    assert px.shape[1] == 2 * render.PANEL_W and px.shape[0] > 3 * render.PANEL_H
    assert _not_blank(px)
    blue, orange = render.PALETTE[0], render.PALETTE[1]
    assert _has_color(px, blue) and _has_color(px, orange)
    assert _has_color(px, render._faint(blue))  # the raw values, faint behind


def test_plot_defaults_to_the_run_that_logged_last(run_cli, tmp_path):
    import os

    write_metrics(tmp_path / "runs" / "old")
    write_metrics(tmp_path / "runs" / "new", n=3)
    os.utime(tmp_path / "runs" / "old" / "metrics.jsonl", (1, 1))
    res = run_cli("plot", "--smoothing", "0")
    assert res.exit_code == 0, res.stderr
    assert "wrote losses.png (1 run)" in res.stderr
    px = _pixels(tmp_path / "losses.png")
    assert _not_blank(px) and _has_color(px, render.PALETTE[0])


@pytest.mark.parametrize("args, code, words", [
    (["ghost"], 1, ["ghost", "no such run"]),
    (["a", "--out", "x.jpg"], 2, ["--out x.jpg", "PNG"]),
    (["a", "--out", "."], 2, ["--out .", "folder"]),
    (["a", "--smoothing", "1"], 2, ["--smoothing"]),
    (["empty"], 1, ["no metrics"]),
])
def test_plot_bad_input_is_one_line(run_cli, tmp_path, args, code, words):
    write_metrics(tmp_path / "runs" / "a")
    (tmp_path / "runs" / "empty").mkdir()
    (tmp_path / "runs" / "empty" / "config.json").write_text('{"gankit_run": 1}')
    res = run_cli("plot", *args)
    assert res.exit_code == code, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), res.stderr
    assert not (tmp_path / "x.jpg").exists()


def test_training_keeps_samples_losses_png_up_to_date(run_cli, tiny, tmp_path):
    res = run_cli("train", "dcgan", *tiny, "--steps", "4", "--log-every", "1",
                  "--sample-every", "2", "--name", "r", "--quiet")
    assert res.exit_code == 0, res.stderr
    path = tmp_path / "runs" / "r" / "samples" / "losses.png"
    px = _pixels(path)
    assert _not_blank(px)
    assert _has_color(px, render.PALETTE[0])  # the run's curves
    # redrawn at the last grid: the same figure as `gankit plot` of the finished run draws
    again = run_cli("plot", "r", "--out", "check.png", "--title", "r  step 4")
    assert again.exit_code == 0, again.stderr
    assert np.array_equal(px, _pixels(tmp_path / "check.png"))


def test_redraws_take_at_most_a_twentieth_of_the_time_and_the_last_grid_always_redraws(
        tmp_path, monkeypatch):
    from types import SimpleNamespace

    import gankit_plots

    class Trainer:  # what the hook reads of the trainer
        run_dir, total_steps = tmp_path / "r", 100

    clock = [0.0]
    drawn = []

    def fake_plot(runs, out, **kw):
        clock[0] += 1.0  # a redraw takes one second
        drawn.append(kw["title"].split()[-1])

    monkeypatch.setattr(gankit_plots, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(render, "plot_runs", fake_plot)
    t = Trainer()
    for step, at in ((10, 0.0), (20, 5.0), (30, 25.0), (40, 26.0), (100, 27.0)):
        clock[0] = at
        gankit_plots.on_samples(trainer=t, step=step, path=tmp_path / "r" / "samples" / "x.png")
    assert drawn == ["10", "30", "100"]
