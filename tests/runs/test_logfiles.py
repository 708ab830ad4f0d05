"""gankit.StepLog / append_line / trim_lines: append-only logs that survive crashes and
resumes, for JSON lines and CSV."""

from __future__ import annotations

import json

import pytest

import gankit
from gankit import StepLog, append_line, trim_lines


def test_append_line_adds_one_line_per_call(tmp_path):
    path = tmp_path / "sub" / "log.txt"
    append_line(path, "a")
    append_line(path, "b\n")
    assert path.read_text() == "a\nb\n"
    with pytest.raises(ValueError, match="one line"):
        append_line(path, "c\nd")
    assert path.read_text() == "a\nb\n"


def test_trim_lines_drops_torn_and_refused_lines(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("keep\ndrop\nkeep\ntorn")
    before = path.stat().st_ino
    assert trim_lines(path, lambda line, i: line == "keep") == 2
    assert path.read_text() == "keep\nkeep\n"
    assert path.stat().st_ino != before  # rewritten through atomic_write (a rename)
    assert trim_lines(path, lambda line, i: True) == 0
    assert trim_lines(tmp_path / "missing", lambda line, i: True) == 0


def test_jsonl_step_log_resume(tmp_path):
    log = StepLog(tmp_path / "losses.jsonl")
    for step in (1, 2, 3, 4):
        log.append({"step": step, "loss": step / 10})
    with open(log.path, "a") as fh:  # a crash in the middle of a line
        fh.write('{"step": 5, "lo')
    assert log.trim(2) == 3  # steps 3, 4 and the torn line
    assert [r["step"] for r in log.records()] == [1, 2]
    log.append({"step": 3, "loss": 0.5})
    lines = log.path.read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3]


def test_csv_step_log_header_columns_and_resume(tmp_path):
    log = StepLog(tmp_path / "losses.csv")
    log.append({"step": 1, "loss_d": 0.5, "loss_g": 1.5})
    log.append({"step": 2, "loss_g": 1.0, "loss_d": 0.25, "extra": 9})  # column order kept
    log.append({"step": 3, "loss_d": 0.125})
    assert log.path.read_text() == ("step,loss_d,loss_g\n1,0.5,1.5\n2,0.25,1.0\n3,0.125,\n")
    with open(log.path, "a") as fh:
        fh.write("4,0.1")  # torn
    # a new StepLog on resume (another process) reads the header back
    again = StepLog(tmp_path / "losses.csv")
    assert again.trim(2) == 2
    assert again.records() == [{"step": "1", "loss_d": "0.5", "loss_g": "1.5"},
                               {"step": "2", "loss_d": "0.25", "loss_g": "1.0"}]
    again.append({"step": 3, "loss_d": 1, "loss_g": 2})
    assert again.path.read_text().splitlines()[-1] == "3,1,2"


def test_csv_torn_header_starts_again(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("step,lo")
    log = StepLog(path, fields=["step", "loss"])
    log.append({"step": 1, "loss": 2})
    assert path.read_text() == "step,loss\n1,2\n"


def test_bad_records_and_formats(tmp_path):
    with pytest.raises(ValueError, match="no 'step'"):
        StepLog(tmp_path / "a.jsonl").append({"loss": 1})
    with pytest.raises(ValueError, match="'csv' or 'jsonl'"):
        StepLog(tmp_path / "a.txt", format="xml")
    log = StepLog(tmp_path / "iters.log", format="csv", step_key="iter")
    log.append({"iter": 7, "x": 1})
    assert log.trim(6) == 1 and log.records() == []


def test_exported_from_gankit():
    for n in ("StepLog", "append_line", "trim_lines"):
        assert n in gankit.__all__


def test_hook_keeps_a_csv_log_across_a_resume(tmp_path, run_cli):
    """A plugin writing a CSV from on_log, trimmed in on_train_start: after a resume
    from step 2 of a run that logged to step 4, no step appears twice."""
    from gankit import hookimpl
    from gankit.plugins import get_plugins

    class CsvLogger:
        @hookimpl
        def on_train_start(self, trainer):
            if trainer.is_main:
                StepLog(trainer.run_dir / "losses.csv").trim(trainer.step)

        @hookimpl
        def on_log(self, trainer, step, metrics):
            StepLog(trainer.run_dir / "losses.csv").append({"step": step, **metrics})

    get_plugins().add_plugin(CsvLogger(), "csv-logger")
    args = ["train", "vanilla", "--dataset", "ring8", "--batch-size", "8", "--log-every", "1",
            "--sample-every", "0", "--checkpoint-every", "2", "--keep-last", "0", "--out",
            tmp_path, "--name", "r"]
    assert run_cli(*args, "--steps", "4").exit_code == 0
    run = tmp_path / "r"
    (run / "checkpoints" / "step-0000004.safetensors").unlink()  # as if killed after step 4's log
    res = run_cli("train", "--resume", run, "--steps", "5", "--quiet")
    assert res.exit_code == 0, res.output
    steps = [int(r["step"]) for r in StepLog(run / "losses.csv").records()]
    assert steps == [1, 2, 3, 4, 5]
    header = (run / "losses.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "step" and "loss_d" in header and "images_per_s" in header
