"""The bad-input matrix of docs/reliability.md, through the command line.

Each refused input must give exactly one line on stderr (``Error: ...``) that names the
file or flag, a non-zero exit and no traceback. Inputs that gankit accepts with a
warning (unreadable images among good ones, a batch larger than the data) must train
and warn in one line. The image decoder itself is tested in test_images.py; here we
check what the user sees.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gankit import checkpoints as ckpt
from gankit.cli import make_cli

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8"]
QUICK = ["--sample-every", "0", "--log-every", "1"]


def cli(*args):
    return CliRunner().invoke(make_cli(), ["-q", *map(str, args)], catch_exceptions=False)


def refused(result, *needles, code=None):
    """Exactly one stderr line, 'Error: ...', containing every needle; no traceback."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


def accepted(result):
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, result.output
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def noise(w, h, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def good_pngs(folder: Path, n: int, size=40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        noise(size, size, seed=i).save(folder / f"good{i}.png")
    return folder


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
