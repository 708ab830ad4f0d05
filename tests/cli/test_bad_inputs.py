"""The bad-input matrix of docs/reliability.md, through the command line.

Each refused input must give exactly one line on stderr (``Error: ...``) that names the
file or flag, a non-zero exit and no traceback. Inputs that gankit accepts with a
warning (unreadable images among good ones, a batch larger than the data) must train
and warn in one line. The image decoder itself is tested in test_images.py; here we
check what the user sees.
"""

from __future__ import annotations

import errno
from functools import partial
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gankit import checkpoints as ckpt
from gankit.cli import make_cli

from kit import QUICK, TINY, accepted, noise, noise_pngs, refused
from kit import cli as _cli

cli = partial(_cli, quiet=True)  # every command here runs with -q


def good_pngs(folder: Path, n: int) -> Path:
    return noise_pngs(folder, n, names="good{i}.png")


# ------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small image folder and a 2-step tiny dcgan run trained on it."""
    root = tmp_path_factory.mktemp("bad-inputs")
    data = good_pngs(root / "data", 8)
    r = cli("train", "dcgan", "--data", data, *TINY, *QUICK, "--steps", "2",
            "--checkpoint-every", "1", "--out", root / "runs", "--name", "ok")
    accepted(r)
    run = root / "runs" / "ok"
    return {"root": root, "data": data, "run": run,
            "ckpt": ckpt.checkpoint_path(run, 2)}


# ---------------------------------------------------------------------- data paths

def test_missing_data_path(tmp_path):
    refused(cli("train", "dcgan", "--data", tmp_path / "nope", *TINY), "--data", "nope")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    refused(cli("train", "dcgan", "--data", tmp_path / "empty", *TINY),
            "--data", "empty", "no image files")


def test_folder_of_non_images(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "notes.txt").write_text("hello")
    (d / "table.csv").write_text("a,b\n1,2\n")
    refused(cli("train", "dcgan", "--data", d, *TINY), "--data", "docs", "no image files")


def test_folder_of_fake_images(tmp_path):
    d = tmp_path / "fake"
    d.mkdir()
    (d / "a.png").write_text("not a png")
    (d / "b.jpg").write_bytes(b"")
    refused(cli("train", "dcgan", "--data", d, *TINY), "--data", "fake",
            "none of the 2 image files could be read")


def test_broken_images_skipped_with_one_warning(tmp_path):
    d = good_pngs(tmp_path / "mixed", 3)
    buf = tmp_path / "full.png"
    noise(40, 40, seed=9).save(buf)
    (d / "zero.png").write_bytes(b"")
    (d / "cut.png").write_bytes(buf.read_bytes()[:200])
    noise(40, 40, seed=10).save(tmp_path / "full.jpg", quality=90)
    (d / "zero.jpg").write_bytes(b"")
    (d / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:300])
    lines = accepted(cli("train", "dcgan", "--data", d, *TINY, *QUICK, "--steps", "1",
                         "--out", tmp_path / "runs", "--name", "r"))
    warnings = [ln for ln in lines if ln.startswith("Warning: ")]
    assert len(warnings) == 2, lines  # the skipped files, and the batch clamp (3 < 8)
    assert "skipped 4 unreadable image file(s)" in warnings[0]
    assert "--batch-size 8 is larger than the data set (3 samples); using 3" in warnings[1]
    assert ckpt.Checkpoint(ckpt.checkpoint_path(tmp_path / "runs" / "r", 1)).step == 1


def test_odd_but_valid_images_all_decode(tmp_path):
    """16-bit, CMYK, palette+transparency, LA, EXIF-rotated, animated GIF, 1x1,
    non-square and a 10000x10000 JPEG: every one becomes a training sample, silently."""
    d = tmp_path / "odd"
    d.mkdir()
    Image.fromarray(np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40).save(
        d / "deep16.png")
    with Image.open(d / "deep16.png") as im:
        assert im.mode.startswith("I")  # really 16 bit on disk
    Image.new("CMYK", (40, 40), (0, 120, 200, 10)).save(d / "cmyk.jpg")
    pal = Image.new("P", (40, 40), 1)
    pal.putpalette([0, 0, 0, 255, 40, 40] + [0] * 762)
    pal.save(d / "palette.png", transparency=0)
    Image.new("LA", (40, 40), (128, 200)).save(d / "gray-alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    noise(60, 40, seed=3).save(d / "rotated.jpg", exif=exif)
    frames = [noise(40, 40, seed=s) for s in (4, 5, 6)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    Image.new("RGB", (1, 1), (255, 0, 0)).save(d / "one-pixel.png")
    noise(120, 30, seed=7).save(d / "wide.png")
    Image.new("L", (10000, 10000), 90).save(d / "huge.jpg", quality=50)
    r = CliRunner().invoke(make_cli(), [str(a) for a in (
        "train", "dcgan", "--data", d, *TINY, *QUICK, "--steps", "1",
        "--out", tmp_path / "runs", "--name", "r")], catch_exceptions=False)
    lines = accepted(r)
    assert not [ln for ln in lines if ln.startswith(("Warning", "Error"))], lines
    assert "(9 samples, 3x32x32)" in r.stderr, r.stderr


# ----------------------------------------------------------------- flags and names

@pytest.mark.parametrize("args, needles", [
    (["train", "dcgna"], ["unknown model 'dcgna'", "did you mean 'dcgan'"]),
    (["train", "dcgan", "--dataset", "sushy"], ["unknown dataset 'sushy'", "did you mean 'sushi'"]),
    (["train", "dcgan", "--loss", "hingee"], ["unknown loss 'hingee'", "did you mean 'hinge'"]),
    (["train", "dcgan", "--set", "ngff=8"], ["--set", "'ngff'", "did you mean 'ngf'"]),
    (["train", "dcgan", "--set", "ngf=wide"], ["--set ngf=wide", "expected int"]),
    (["train", "dcgan", "--set", "ngf"], ["--set ngf", "KEY=VALUE"]),
])
def test_unknown_names(args, needles):
    refused(cli(*args), *needles)


@pytest.mark.parametrize("flag, value", [
    ("--log-every", 0), ("--grid", 0), ("--checkpoint-every", -1), ("--keep-last", -2),
    ("--lr", -1), ("--lr", "nan"), ("--beta1", 1.5), ("--max-retries", -1),
    ("--image-size", -4), ("--steps", 0),
])
def test_out_of_range_numbers(flag, value, tmp_path):
    args = ["train", "dcgan", "--out", tmp_path]
    for default in (["--image-size", "32"], ["--steps", "1"]):
        if flag != default[0]:
            args += default
    refused(cli(*args, flag, value), flag, code=2)


def test_image_size_the_model_cannot_build(base):
    refused(cli("train", "dcgan", "--data", base["data"], "--image-size", "30"),
            "--image-size 30", "dcgan cannot build that size", code=2)


def test_batch_larger_than_data_is_clamped(base, tmp_path):
    lines = accepted(cli("train", "dcgan", "--data", base["data"], *TINY[:-1], "64", *QUICK,
                         "--steps", "1", "--out", tmp_path, "--name", "clamp"))
    assert lines == ["Warning: --batch-size 64 is larger than the data set (8 samples); using 8"]
    saved = json.loads((tmp_path / "clamp" / "config.json").read_text())
    assert saved["options"]["batch_size"] == 8


# ---------------------------------------------------------------------- output paths

def test_out_under_a_file(base, tmp_path):
    (tmp_path / "afile").write_text("x")
    refused(cli("train", "dcgan", "--data", base["data"], *TINY, "--steps", "1",
                "--out", tmp_path / "afile" / "runs"), "--out", "afile", "not writable")


def test_out_in_proc():
    refused(cli("train", "dcgan", *TINY, "--steps", "1", "--out", "/proc/gankit-runs"),
            "--out /proc/gankit-runs", "not writable")


def test_full_disk_while_writing_a_checkpoint(base, tmp_path, monkeypatch):
    """ENOSPC half-way through the second checkpoint: one line, the first survives,
    no temp file is left, and --resume continues from the survivor."""
    import safetensors.torch

    real = safetensors.torch.save_file
    calls = []

    def full_disk(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) < 2:
            return real(tensors, filename, metadata=metadata)
        real(tensors, filename, metadata=metadata)
        data = Path(filename).read_bytes()
        Path(filename).write_bytes(data[: len(data) // 2])  # the disk filled up here
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    args = ["train", "dcgan", "--data", base["data"], *TINY, *QUICK, "--steps", "4",
            "--checkpoint-every", "2", "--out", tmp_path, "--name", "full"]
    line = refused(cli(*args), "step-0000004.safetensors", "No space left on device",
                   "previous checkpoints are kept")
    assert "cannot write checkpoint" in line
    run = tmp_path / "full"
    assert [p.name for p in ckpt.list_checkpoints(run)] == ["step-0000002.safetensors"]
    assert ckpt.Checkpoint(ckpt.checkpoint_path(run, 2)).state()["step"] == 2
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    accepted(cli("train", "--resume", run))
    assert ckpt.latest_loadable(run).step == 4


# ---------------------------------------------------------------------- checkpoints

def _edit(src: Path, dst: Path, **changes) -> Path:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata())
    meta.update(changes)
    save_file(load_file(str(src)), str(dst), metadata={k: v for k, v in meta.items()
                                                       if v is not None})
    return dst


def _truncated(src, dst):
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    return dst


def _header_cut(src, dst):
    dst.write_bytes(src.read_bytes()[:100])
    return dst


def _zip(src, dst):
    dst.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return dst


def _torch_pickle(src, dst):
    dst.write_bytes(b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u." * 8)  # a pickle stream
    return dst


CKPT_CASES = {
    # id: (make(src, dst), words in the error)
    "truncated": (_truncated, ["truncated"]),
    "header-cut": (_header_cut, ["not a safetensors file or truncated"]),
    "zip": (_zip, ["not a safetensors file"]),
    "pickle": (_torch_pickle, ["not a safetensors file"]),
    "empty": (lambda s, d: (d.write_bytes(b""), d)[1], ["not a safetensors file"]),
    "not-gankit": (lambda s, d: _edit(s, d, **{"gankit.format": None}),
                   ["not a gankit checkpoint"]),
    "newer-format": (lambda s, d: _edit(s, d, **{"gankit.format": "99"}),
                     ["newer gankit", "format 99", "upgrade gankit"]),
    "format-nonsense": (lambda s, d: _edit(s, d, **{"gankit.format": "one"}),
                        ["bad gankit.format"]),
    "step-nonsense": (lambda s, d: _edit(s, d, **{"gankit.step": "banana"}), ["gankit.step"]),
    "config-not-json": (lambda s, d: _edit(s, d, **{"gankit.config": "{ngf: 8"}),
                        ["'gankit.config' is not valid JSON"]),
    "config-a-list": (lambda s, d: _edit(s, d, **{"gankit.config": "[8, 8]"}),
                      ["'gankit.config' has the wrong type"]),
    "config-wrong-type": (lambda s, d: _edit(s, d, **{"gankit.config": '{"ngf": "wide"}'}),
                          ["'ngf'", "not a valid int"]),
    "config-negative": (lambda s, d: _edit(s, d, **{"gankit.config": '{"ngf": -3, "ndf": 8}'}),
                        ["ngf=-3", "at least 1"]),
    "config-other-shape": (lambda s, d: _edit(s, d, **{"gankit.config": '{"ngf": 16, "ndf": 8}'}),
                           ["weights do not fit", "dcgan"]),
    "train-not-json": (lambda s, d: _edit(s, d, **{"gankit.train": "nonsense"}),
                       ["'gankit.train' is not valid JSON"]),
    "data-wrong-type": (lambda s, d: _edit(s, d, **{"gankit.data": '{"size": "big"}'}),
                        ["'size'", "not a valid int"]),
    "model-unknown": (lambda s, d: _edit(s, d, **{"gankit.model": "stylegan9"}),
                      ["stylegan9"]),
    "model-version": (lambda s, d: _edit(s, d, **{"gankit.model_version": "7"}),
                      ["version 7 of model 'dcgan'"]),
}
# the training state is only read by --resume; the model's description by both
TRAIN_ONLY = {"train-not-json"}
SAMPLE_ONLY = {"data-wrong-type"}


@pytest.mark.parametrize("command", ["sample", "resume"])
@pytest.mark.parametrize("case", sorted(CKPT_CASES))
def test_bad_checkpoint(case, command, base, tmp_path):
    if (command == "sample" and case in TRAIN_ONLY) or (command == "resume" and case in SAMPLE_ONLY):
        pytest.skip("not read by this command")
    make, words = CKPT_CASES[case]
    bad = make(base["ckpt"], tmp_path / f"{case}.safetensors")
    if command == "sample":
        r = cli("sample", bad, "-n", "4", "--out", tmp_path / "s.png")
    else:
        r = cli("train", "--resume", bad, "--steps", "3")
    refused(r, bad.name, *words)
    assert not (tmp_path / "s.png").exists()


def test_resume_state_edited(base, tmp_path):
    bad = _edit(base["ckpt"], tmp_path / "state.safetensors", **{"gankit.state": '{"__d__": 5}'})
    refused(cli("train", "--resume", bad, "--steps", "3"), bad.name, "gankit.state")
    bad = _edit(base["ckpt"], tmp_path / "nostate.safetensors", **{"gankit.state": None})
    refused(cli("train", "--resume", bad, "--steps", "3"), bad.name, "gankit.state")


def test_resume_a_run_of_another_model(base):
    refused(cli("train", "wgan-gp", "--resume", base["run"]),
            "--resume", "trains 'dcgan', not 'wgan-gp'")


def test_resume_missing(tmp_path):
    refused(cli("train", "--resume", tmp_path / "gone"), "--resume", "gone")
    (tmp_path / "fresh").mkdir()
    refused(cli("train", "--resume", tmp_path / "fresh"), "--resume", "no checkpoints")


def test_resume_conflicting_flags_need_override(base, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(base["run"], run)
    refused(cli("train", "--resume", run, "--lr", "0.1"),
            "--lr 0.1", "(the run has 0.0002)", "--override")
    refused(cli("train", "--resume", run, "--set", "ngf=16"), "--set ngf=16", "--override")
    refused(cli("train", "--resume", run, "--image-size", "64"), "--image-size 64", "--override")
    accepted(cli("train", "--resume", run, "--steps", "3"))  # steps may change freely
    accepted(cli("train", "--resume", run, "--lr", "0.1", "--override", "--steps", "4"))
    c = ckpt.latest_loadable(run)
    assert c.step == 4 and c.train["lr"] == 0.1


def test_sample_out_not_writable(base):
    refused(cli("sample", base["run"], "-n", "4", "--out", "/proc/gankit/x.png"),
            "/proc/gankit")


# ------------------------------------------- run folders, outputs and hostile files (round 3)
#
# Each case is a row of docs/reliability.md's "Files gankit did not make" table: what a
# careless or hostile user can put in front of gankit, and what gankit does instead of
# deleting, overwriting or hanging.

import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
from contextlib import contextmanager  # noqa: E402


class Hung(BaseException):
    """Raised by :func:`within`; a BaseException, so no ``except OSError`` swallows it."""


@contextmanager
def within(seconds: int):
    """Fail (instead of hanging the suite) when the body takes longer than ``seconds``."""
    def boom(*_):
        raise Hung(f"took more than {seconds} s (blocked on a pipe?)")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def copy_run(base, dst: Path, status: str | None = None) -> Path:
    shutil.copytree(base["run"], dst)
    if status is not None:
        (dst / "status.json").write_text(json.dumps({"status": status, "step": 2,
                                                     "total_steps": 2}))
    return dst


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_clean_spares_folders_that_are_not_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "cl" / "userproj"
    user.mkdir(parents=True)
    (user / "config.json").write_text("{}")
    (user / "notes.txt").write_text("x")
    photos = tmp_path / "cl" / "photos"
    (photos / "checkpoints").mkdir(parents=True)
    noise(8, 8).save(photos / "a.png")
    legacy_like = tmp_path / "cl" / "mine"  # gankit's keys, but nothing else gankit writes
    legacy_like.mkdir()
    (legacy_like / "config.json").write_text(json.dumps(
        {"gankit_version": "0.2.0", "model": "dcgan", "options": {}}))
    (legacy_like / "checkpoints").mkdir()
    (legacy_like / "checkpoints" / "step-0000001.safetensors").write_bytes(b"\0" * 64)
    before = tree(tmp_path / "cl")
    r = cli("runs", "clean", "--out", "cl", "-y")
    assert accepted(r) == ["nothing to clean: no runs to remove under cl/"]
    assert tree(tmp_path / "cl") == before
    assert json.loads(cli("runs", "--out", "cl", "--json").stdout) == []


def test_clean_removes_only_the_files_gankit_wrote(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "r", "failed")
    (run / "notes.txt").write_text("mine")
    (run / "checkpoints" / "mine.txt").write_text("mine")
    (run / "samples").mkdir(exist_ok=True)
    (run / "samples" / "cat.jpg").write_bytes(b"jpeg")
    r = cli("runs", "clean", "-y")
    accepted(r)
    assert "keeping 3 entries gankit did not write" in r.stdout
    assert tree(run) == {"notes.txt", "checkpoints", "checkpoints/mine.txt", "samples",
                         "samples/cat.jpg"}


def test_a_0_2_run_stays_usable_and_is_cleaned(base, tmp_path, monkeypatch):
    """A run written before config.json carried the marker: recognised by its keys and
    its gankit checkpoints; sample and resume work; clean removes it whole."""
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "old")
    cfg = json.loads((run / "config.json").read_text())
    cfg.pop("gankit_run")
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "status.json").unlink(missing_ok=True)
    accepted(cli("sample", "old", "-n", "1", "--out", tmp_path / "s.png"))
    accepted(cli("train", "--resume", run, "--steps", "3", *QUICK))
    assert json.loads((run / "config.json").read_text())["gankit_run"] == 1  # upgraded
    (run / "status.json").write_text(json.dumps({"status": "failed", "step": 3}))
    cfg = json.loads((run / "config.json").read_text())
    cfg.pop("gankit_run")
    (run / "config.json").write_text(json.dumps(cfg))
    accepted(cli("runs", "clean", "-y"))
    assert not run.exists()


def test_clean_refuses_an_ambiguous_name_and_files(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_run(base, tmp_path / "exp1", "failed")  # ./exp1, the user's
    copy_run(base, tmp_path / "runs" / "exp1", "failed")
    refused(cli("runs", "clean", "exp1", "-y"), "ambiguous", "./exp1", "runs/exp1", code=1)
    assert (tmp_path / "exp1" / "config.json").exists()
    assert (tmp_path / "runs" / "exp1" / "config.json").exists()
    (tmp_path / "runs" / "exp1" / "checkpoints" / "anyfile").write_text("x")
    refused(cli("runs", "clean", "runs/exp1/checkpoints/anyfile", "-y"), "anyfile")
    assert (tmp_path / "runs" / "exp1" / "config.json").exists()
    accepted(cli("runs", "clean", "runs/exp1", "-y"))  # a path is never ambiguous
    assert (tmp_path / "exp1" / "config.json").exists()
    assert (tmp_path / "runs" / "exp1" / "checkpoints" / "anyfile").exists()
    assert not (tmp_path / "runs" / "exp1" / "config.json").exists()


def test_clean_interrupted_midway_can_be_finished(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "r", "failed")
    real_unlink, calls = Path.unlink, []

    def unlink(self, *a, **kw):
        calls.append(self)
        if len(calls) == 3:
            raise KeyboardInterrupt  # SIGTERM/Ctrl-C in the middle of the removal
        return real_unlink(self, *a, **kw)

    monkeypatch.setattr(Path, "unlink", unlink)
    try:
        res = CliRunner().invoke(make_cli(), ["runs", "clean", "-y"], catch_exceptions=False)
        assert res.exit_code != 0
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert len(calls) >= 3 and (run / "config.json").exists()
    listed = json.loads(cli("runs", "--json").stdout)
    assert [r["name"] for r in listed] == ["r"]  # still a run: clean can finish it
    accepted(cli("runs", "clean", "-y"))
    assert not run.exists()


def test_export_never_overwrites_a_run_or_a_file(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "r")
    newest = run / "checkpoints" / "step-0000002.safetensors"
    before = newest.read_bytes()
    for target in (newest, run / "config.json", run / "x.pt"):
        refused(cli("export", run, "--format", "torchscript", "--out", target),
                "inside the run folder", code=2)
    assert newest.read_bytes() == before
    (tmp_path / "mine.pt").write_text("precious")
    refused(cli("export", run, "--format", "torchscript", "--out", "mine.pt"),
            "already exists", "--force", code=2)
    assert (tmp_path / "mine.pt").read_text() == "precious"
    refused(cli("export", run, "--out", ""), "--out ''", "empty path", code=2)
    accepted(cli("export", run, "--format", "torchscript", "--out", "mine.pt", "--force"))
    assert (tmp_path / "mine.pt").read_bytes()[:2] == b"PK"  # replaced, as asked


def test_datasets_export_never_replaces_the_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = good_pngs(tmp_path / "src", 3)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    for out in ("src", "src/sub", "."):
        refused(cli("datasets", "export", "imagefolder", out, "--data", "src",
                    "--image-size", "8"), "--data src", code=2)
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
    out = tmp_path / "out"
    out.mkdir()
    (out / "good0.png").write_text("mine")
    refused(cli("datasets", "export", "imagefolder", out, "--data", "src", "--image-size", "8"),
            "exist already", "--force", code=2)
    assert (out / "good0.png").read_text() == "mine"
    accepted(cli("datasets", "export", "imagefolder", out, "--data", "src", "--image-size", "8",
                 "--force"))
    assert (out / "good0.png").read_bytes()[:4] == b"\x89PNG"


def test_a_fifo_checkpoint_never_blocks(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "r")
    os.mkfifo(run / "checkpoints" / "step-0000009.safetensors")
    with within(30):
        accepted(cli("sample", run, "-n", "1", "--out", tmp_path / "s.png"))
        refused(cli("sample", run / "checkpoints" / "step-0000009.safetensors"),
                "not a regular file")
        accepted(cli("runs", "--json"))


@pytest.mark.parametrize("name", ["config.json", "status.json", "run.lock", "metrics.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_hostile_run_files_never_hang_the_listing(name, kind, base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = copy_run(base, tmp_path / "runs" / "good")
    bad = copy_run(base, tmp_path / "runs" / "bad")
    (bad / name).unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(bad / name)
    else:
        os.symlink("/dev/zero", bad / name)
    with within(30):
        names = [r["name"] for r in json.loads(accepted_out(cli("runs", "--json")))]
        assert "good" in names
        accepted(cli("runs", "show", "good"))
        accepted(cli("runs", "clean", "--dry-run"))
    assert good.exists()
    if name == "metrics.jsonl":  # resuming would read or append to it: one clear line
        with within(30):
            refused(cli("train", "--resume", bad, "--steps", "3", *QUICK), "metrics.jsonl",
                    "not a regular file")


def accepted_out(result) -> str:
    accepted(result)
    return result.stdout


@pytest.mark.parametrize("case", ["lock-pid-1e30", "metrics-step-1e400", "status-nan",
                                  "updated-1e308", "model-config-list", "deep-config"])
def test_numbers_that_overflow(case, base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = copy_run(base, tmp_path / "runs" / "r", "completed")
    other = copy_run(base, tmp_path / "runs" / "o", "completed")
    if case == "lock-pid-1e30":
        (run / "run.lock").write_text(json.dumps({"pid": 1e30, "host": socket.gethostname()}))
    elif case == "metrics-step-1e400":
        with open(run / "metrics.jsonl", "a") as fh:
            fh.write('{"step": 1e400, "loss_d": 1}\n{"step": 1e30, "loss_d": 1}\n')
    elif case == "status-nan":
        (run / "status.json").write_text('{"status": "completed", "step": NaN, '
                                         '"started": NaN, "updated": Infinity}')
    elif case == "updated-1e308":
        (run / "status.json").write_text('{"status": "completed", "step": 2, "started": 1e308,'
                                         ' "updated": 1e308}')
    elif case == "model-config-list":
        cfg = json.loads((run / "config.json").read_text())
        cfg["model_config"] = [1, 2]
        (run / "config.json").write_text(json.dumps(cfg))
    else:
        (run / "config.json").write_text('{"gankit_run": 1, "x": ' + "[" * 100_000
                                         + "]" * 100_000 + "}")
    names = [r["name"] for r in json.loads(accepted_out(cli("runs", "--json")))]
    assert "o" in names
    accepted(cli("runs", "show", "o"))
    if "r" in names:
        accepted(cli("runs", "show", "r"))
        accepted(cli("runs", "compare", "r", "o"))
        accepted(cli("plot", "r", "--out", tmp_path / "p.png"))
    accepted(cli("runs", "clean", "--dry-run"))
    if case != "deep-config":
        accepted(cli("train", "--resume", run, "--steps", "3", *QUICK))
    assert other.exists()


def test_truncation_below_its_bound(base):
    refused(cli("sample", base["run"], "--truncation", "1e-300"), "--truncation", "0.05",
            code=2)


def test_two_loose_checkpoints_of_one_step_get_their_own_results(base, tmp_path):
    from gankit.metrics.evaluate import eval_path, output_tag, run_dir_of

    loose = tmp_path / "loose"
    loose.mkdir()
    a, b = loose / "a.safetensors", loose / "b.safetensors"
    shutil.copy(base["ckpt"], a)
    shutil.copy(base["ckpt"], b)
    ca, cb = ckpt.Checkpoint(a), ckpt.Checkpoint(b)
    pa = eval_path(run_dir_of(ca), ca.step, output_tag(ca))
    pb = eval_path(run_dir_of(cb), cb.step, output_tag(cb))
    assert pa != pb and pa.parent == pb.parent == loose / "metrics"
    c = ckpt.Checkpoint(base["ckpt"])  # inside a run: the run's own name
    assert eval_path(run_dir_of(c), c.step, output_tag(c)) == base["run"] / "metrics" / \
        "eval-step-0000002.json"


def test_override_lr_survives_the_divergence_guard(base, tmp_path):
    from gankit.train.loop import Trainer
    from gankit.train.options import TrainOptions
    from gankit.train.plan import plan

    run = copy_run(base, tmp_path / "r")
    o = TrainOptions(model=None, lr=0.05, steps=3)
    t = Trainer.from_plan(plan(o, sets={}, explicit={"lr", "steps"}, resume=str(run),
                               override=True))
    try:
        t.guard.recover()  # as after non-finite values: restores the run's step-2 checkpoint
        lrs = [g["lr"] for opt in t.opts.values() for g in opt.param_groups]
        assert lrs == pytest.approx([0.05 * 0.5] * len(lrs))
    finally:
        t.run.unlock()


def test_train_name_never_takes_over_a_folder_that_is_not_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "runs" / "mine"
    mine.mkdir(parents=True)
    (mine / "config.json").write_text('{"my": "settings"}')
    refused(cli("train", "dcgan", *TINY, "--steps", "1", "--name", "mine"), "--name mine",
            "not a gankit run")
    assert (mine / "config.json").read_text() == '{"my": "settings"}'


def test_a_run_still_loading_its_data_is_listed_and_never_cleaned(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "starting"
    run.mkdir(parents=True)
    (run / "run.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    rows = json.loads(accepted_out(cli("runs", "--json")))
    assert [(r["name"], r["status"]) for r in rows] == [("starting", "running")]
    accepted(cli("runs", "clean", "-y"))
    assert (run / "run.lock").exists()


@pytest.mark.parametrize("flags, needles", [
    (["--ema", "1e308"], ["--ema 1e+308", "at most 10000 kimg"]),
    (["--augment", ""], ["--augment ''", "empty policy"]),
    (["--augment", "none", "--augment-p", "0.5"], ["--augment-p 0.5", "--augment none"]),
    (["--augment", "none", "--ada-target", "0.6"], ["--ada-target 0.6", "--augment none"]),
])
def test_training_flags_that_would_silently_do_nothing(flags, needles, base, tmp_path):
    refused(cli("train", "dcgan", "--data", base["data"], *TINY, *QUICK, "--steps", "1",
                "--out", tmp_path / "runs", *flags), *needles, code=2)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_plugin_failing_at_start_leaves_a_failed_unlocked_run(base, tmp_path, monkeypatch):
    """`--log tensorboard` without the package: the run used to keep its lock and say
    "running" forever."""
    import gankit_tensorboard

    def missing():
        raise gankit_tensorboard.GankitError("--log tensorboard needs the tensorboard package")

    monkeypatch.setattr(gankit_tensorboard, "_summary_writer", missing)
    refused(cli("train", "dcgan", "--data", base["data"], *TINY, *QUICK, "--steps", "1",
                "--out", tmp_path / "runs", "--name", "tb", "--log", "tensorboard"),
            "tensorboard package")
    run = tmp_path / "runs" / "tb"
    assert not (run / "run.lock").exists()
    assert json.loads((run / "status.json").read_text())["status"] == "failed"


def test_a_fifo_among_the_sample_grids_never_blocks_timelapse(base, tmp_path):
    run = copy_run(base, tmp_path / "r")
    grids = sorted((run / "samples").glob("step-*.png"))
    if not grids:  # the base run writes no grids (--sample-every 0): draw two
        (run / "samples").mkdir(exist_ok=True)
        for s in (1, 2):
            noise(16, 16, seed=s).save(run / "samples" / f"step-{s:06d}.png")
    os.mkfifo(run / "samples" / "step-000009.png")
    with within(30):
        accepted(cli("timelapse", run, "--out", tmp_path / "t.gif"))


@pytest.mark.parametrize("args, needles, code", [
    (["vanilla", "--dataset", "ring8", "--set", "data.count=999999999999"],
     ["--set data.count=999999999999", "1 to 10,000,000"], 2),
    (["vanilla", "--dataset", "ring8", "--set", "data.count=0"], ["--set data.count=0"], 2),
    (["dcgan", "--dataset", "ring8"], ["dcgan needs image data", "'ring8' is vector data"], 1),
])
def test_data_that_does_not_fit_the_model_or_memory(args, needles, code, tmp_path):
    refused(cli("train", *args, "--steps", "1", "--out", tmp_path / "runs"), *needles, code=code)


def test_log_names_an_installed_plugin(base, tmp_path):
    refused(cli("train", "dcgan", "--data", base["data"], *TINY, *QUICK, "--steps", "1",
                "--out", tmp_path / "runs", "--log", "nonexistent"),
            "--log nonexistent", "no installed plugin", code=2)


def test_sushi_count_is_bounded_and_rendering_reports_progress(tmp_path):
    from gankit import LoadOptions, get_dataset

    refused(cli("train", "dcgan", *TINY, "--steps", "1", "--out", tmp_path / "runs",
                "--set", "data.count=999999999"), "--set data.count=999999999", code=2)
    calls = []
    ds = get_dataset("sushi")
    d = ds.load(LoadOptions(image_size=16, config=ds.Config(count=3),
                            progress=lambda done, total: calls.append((done, total))))
    assert len(d) == 3 and calls == [(1, 3), (2, 3), (3, 3)]  # a bar at 1024 px, not silence


def test_a_model_option_refused_after_loading_is_one_line_on_stderr(tmp_path):
    """The data-loading bar vanishes when done; on a stderr that is not a terminal it
    must not leave a blank line before the error (a real process, not the test runner)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "gankit", "train", "dcgan", "--set", "ngf=0",
                        "--steps", "1", "--out", str(tmp_path / "runs")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode != 0
    assert r.stderr.splitlines() == ["Error: --set ngf=0: must be at least 1"], r.stderr
    assert not (tmp_path / "runs").exists()
