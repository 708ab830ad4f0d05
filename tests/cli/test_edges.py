"""Reliability at the edges: every size and count bounded before work starts, real
failures (a full disk, plugins that exit) reported as documented, and no silent wrong
results (colliding export names, NaN weights, unreadable grids and folders, file modes).

The refusals are rows of the bad-input table in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gankit import checkpoints as ckpt
from gankit import hookimpl
from gankit.cli import make_cli
from gankit.errors import CheckpointError, UsageError

from kit import QUICK, TINY, accepted, noise_pngs, refused
from kit import cli as _cli

cli = partial(_cli, quiet=True)  # every command here runs with -q


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small image folder, a folder of fake images, and a 2-step tiny dcgan run."""
    root = tmp_path_factory.mktemp("edges")
    data = noise_pngs(root / "data", 8, names="img{i}.png")
    fakes = root / "fakes"
    fakes.mkdir()
    for name in ("a.png", "b.jpg"):
        (fakes / name).write_text("not an image")
    accepted(cli("train", "dcgan", "--data", data, *TINY, "--log-every", "1", "--steps", "2",
                 "--sample-every", "1", "--checkpoint-every", "1", "--out", root / "runs",
                 "--name", "ok"))
    return {"root": root, "data": data, "fakes": fakes, "run": root / "runs" / "ok"}


# ----------------------------------------------------------- 1. every flag bounded

BIG = 2**63  # one past the largest seed


@pytest.mark.parametrize("args, needles", [
    (["-n", 10**8], ["-n 100000000", "at most 100000"]),
    (["-n", 3, "--seed", BIG - 2], ["--seed", "2^63-1"]),  # the last of the 3 seeds is past it
    (["--seed", BIG], [f"--seed {BIG}", "2^63-1"]),
    (["--seed", -1], ["--seed -1", "0 or more"]),
    (["--seed", "1e20"], ["'--seed'", "'1e20' is not a valid integer"]),
    (["--seeds", "0-99999999999"], ["--seeds 0-99999999999", "at most 100000"]),
    (["--seeds", str(BIG)], ["--seeds", "2^63-1"]),
    (["--grid", "0x0"], ["--grid 0x0", "at least 1"]),
    (["--grid", "1000x1000"], ["--grid 1000x1000", "at most 100000"]),
    (["--grid", "ten"], ["--grid ten", "COLSxROWS"]),
], ids=lambda v: " ".join(map(str, v)) if isinstance(v, list) else None)
def test_sample_counts_and_seeds_are_bounded(base, tmp_path, args, needles):
    t0 = time.perf_counter()
    refused(cli("sample", base["run"], *args, "--out", tmp_path / "s.png"), *needles, code=2)
    assert time.perf_counter() - t0 < 5  # refused before anything is generated
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("args, needles", [
    (["--steps", 10**8], ["--steps 100000000", "at most 10000"]),
    (["--seeds", "0-1000", "--steps", 100], ["--steps 100", "99001 frames", "at most 10000"]),
    (["--fps", 1e9, "--gif"], ["--fps 1e+09", "50"]),
    (["--fps", 0.001, "--gif"], ["--fps 0.001", "0.01"]),
    (["--seed-a", BIG], [f"--seed-a {BIG}", "2^63-1"]),
    (["--seed-b", -3], ["--seed-b -3", "0 or more"]),
])
def test_interpolate_is_bounded(base, tmp_path, args, needles):
    refused(cli("interpolate", base["run"], *args, "--out", tmp_path / "i"), *needles, code=2)
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("args, needles", [
    (["--fps", 1e9], ["--fps 1e+09", "frames per second"]),
    (["--every", 10**21], ["--every", "at most 1000000000"]),
])
def test_timelapse_is_bounded(base, tmp_path, args, needles):
    refused(cli("timelapse", base["run"], *args, "--out", tmp_path / "t.gif"), *needles, code=2)


@pytest.mark.parametrize("args, needles", [
    (["--image-size", "7"], ["--image-size 7", "dcgan cannot build that size"]),
    # refused before the data is decoded: decoding these fakes would be another error
    (["--image-size", "1000"], ["--image-size 1000", "dcgan cannot build that size"]),
    (["--image-size", "32", "--set", "ngf=100000"], ["--set ngf=100000", "billion parameters",
                                                      "GB to train", "this machine has"]),
    (["--image-size", "32", "--epochs", "1e12"], ["--epochs 1e+12", "1000000000 steps"]),
    (["--image-size", "32", "--steps", str(10**10)], ["--steps 10000000000", "at most 1000000000"]),
    (["--image-size", "32", "--seed", str(BIG)], [f"--seed {BIG}", "2^63-1"]),
    (["--image-size", "32", "--seed", "-1"], ["--seed -1", "0 or more"]),
    (["--image-size", "32", "--seed", "1e20"], ["'--seed'", "'1e20' is not a valid integer"]),
    (["--image-size", "32", "--grid", "100000"], ["--grid 100000", "at most 1024"]),
])
def test_train_flags_are_bounded_before_the_data_is_read(base, tmp_path, args, needles):
    refused(cli("train", "dcgan", "--data", base["fakes"], *args, "--out", tmp_path),
            *needles, code=2)
    assert not list(tmp_path.iterdir())  # no run folder either


def test_epochs_are_bounded_by_the_steps_they_make(base, tmp_path):
    """1e8 epochs of 8 samples in batches of 1: 8e8 steps would pass the epoch bound
    alone; 1e9 epochs make 8e9 steps."""
    refused(cli("train", "dcgan", "--data", base["data"], *TINY[:-1], "1", "--epochs", "2e8",
                "--out", tmp_path), "--epochs 2e+08", "1.6e+09 steps", code=2)


def test_huge_widths_refused_after_loading_without_image_size(base, tmp_path):
    """Without --image-size the data decides the size; the estimate runs right after."""
    refused(cli("train", "dcgan", "--data", base["data"], "--set", "ngf=100000",
                "--out", tmp_path), "--set ngf=100000", "GB to train", code=2)


@pytest.mark.parametrize("args, flag", [
    (["train", "dcgan", "--data", ""], "--data ''"),
    (["train", "cyclegan", "--data", "x", "--data-b", " "], "--data-b ' '"),
    (["datasets", "export", "sushi", "out", "--data", ""], "--data ''"),
])
def test_empty_data_paths(args, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(cli(*args), flag, "empty path", code=2)


def test_click_parse_errors_are_one_line():
    refused(cli("sample", "--nope"), "--nope", "gankit sample --help", code=2)
    refused(cli("interpolate", "--steps", "many"), "'--steps'", "'many'", code=2)


def test_debug_still_raises():
    with pytest.raises(UsageError, match="--image-size 7"):
        CliRunner().invoke(make_cli(), ["--debug", "train", "dcgan", "--image-size", "7"],
                           catch_exceptions=False)


def test_grid_shape_refuses_empty_grids():
    from gankit.images import grid_shape

    assert grid_shape(5, "3x2") == (3, 2)
    with pytest.raises(UsageError, match="at least 1"):
        grid_shape(5, "0x4")


# ------------------------------------------------------------------- translate sizes


def test_translate_work_size_is_capped():
    from gankit.translation import work_size

    assert work_size((300, 200), 64, False) == ((96, 64), None)
    assert work_size((16, 4000), 64, False) == ((1, 256), 256)  # 64x16000 capped at 4x64
    assert work_size((12000, 9000), 64, True) == ((4096, 3072), 4096)
    assert work_size((1000, 800), 64, True) == ((1000, 800), None)


def test_translate_extreme_aspect_warns_and_stays_bounded(tmp_path, capsys):
    import torch

    from gankit.datasets import DataSpec
    from gankit.models import TRANSLATION
    from gankit.translation import translate_files

    seen = []

    class Echo:  # a translation model that returns its input
        name, kind = "echo", TRANSLATION

        def size_multiple(self, config, spec):
            return 4

        def translate(self, nets, x, direction):
            seen.append(tuple(x.shape[-2:]))
            return x

    strip = tmp_path / "strip.png"
    Image.fromarray(np.full((10, 3000, 3), 90, np.uint8)).save(strip)
    done, skipped = translate_files(Echo(), {}, None, DataSpec(size=32), [(strip, tmp_path / "o.png")],
                                    "a2b", device=torch.device("cpu"))
    assert (done, skipped) == (1, [])
    assert max(seen[0]) <= 4 * 32 + 4  # worked at the capped size (plus padding)
    err = capsys.readouterr().err
    assert "strip.png" in err and "capped at 128 px" in err
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (3000, 10)  # resized back to the input's size


# ------------------------------------------------------------------- 2. real failures


def _mount_tmpfs(folder: Path, size: int) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def test_a_truly_full_disk(base, tmp_path):
    """Train into a tmpfs with room for one checkpoint: the second one fails with the
    documented line, the first is kept and loads, no temp file is left."""
    size = ckpt.list_checkpoints(base["run"])[0].stat().st_size
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, size + size // 2 + 64 * 1024):
        pytest.skip("mounting a tmpfs needs root (mount -t tmpfs)")
    try:
        r = cli("train", "dcgan", "--data", base["data"], *TINY, *QUICK, "--steps", "4",
                "--checkpoint-every", "2", "--out", disk, "--name", "full")
        line = refused(r, "step-0000004.safetensors", "No space left on device",
                       "previous checkpoints are kept", code=1)
        assert "cannot write checkpoint" in line
        run = disk / "full"
        assert [p.name for p in ckpt.list_checkpoints(run)] == ["step-0000002.safetensors"]
        assert ckpt.Checkpoint(ckpt.checkpoint_path(run, 2)).state()["step"] == 2
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=20)


def test_safetensors_own_write_error_is_a_checkpoint_error(tmp_path, monkeypatch):
    """safetensors reports ENOSPC as SafetensorError, not OSError."""
    import safetensors.torch
    import torch
    from safetensors import SafetensorError

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise SafetensorError("Error while serializing: I/O error: No space left on device "
                              "(os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    target = tmp_path / "step-0000001.safetensors"
    with pytest.raises(CheckpointError) as info:
        ckpt.save(target, {"x": torch.zeros(2)}, {})
    assert str(info.value) == (f"{target}: cannot write checkpoint (No space left on device); "
                               "the previous checkpoints are kept")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_on_a_log_line_names_the_file(tmp_path, monkeypatch):
    import builtins
    import errno

    from gankit.logfiles import append_line

    class Full:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda p, *a, **k: Full() if str(p).endswith(
        "metrics.jsonl") else real_open(p, *a, **k))
    with pytest.raises(OSError) as info:
        append_line(tmp_path / "metrics.jsonl", "{}")
    assert info.value.filename == str(tmp_path / "metrics.jsonl")
    assert info.value.errno == errno.ENOSPC


class Exiter:
    """An observer plugin that raises SystemExit or KeyboardInterrupt in every hook."""

    def __init__(self, exc):
        self.exc = exc
        self.calls = []

    def _raise(self, hook):
        self.calls.append(hook)
        raise self.exc

    @hookimpl
    def on_step_end(self, trainer, step, losses):
        self._raise("on_step_end")

    @hookimpl
    def on_log(self, trainer, step, metrics):
        self._raise("on_log")

    @hookimpl
    def on_samples(self, trainer, step, images, path):
        self._raise("on_samples")

    @hookimpl
    def on_checkpoint(self, trainer, step, path, metadata):
        self._raise("on_checkpoint")


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()], ids=["SystemExit",
                                                                           "KeyboardInterrupt"])
def test_observer_that_exits_is_disabled_not_fatal(exc, plugins, base, tmp_path):
    plugin = Exiter(exc)
    plugins.add_plugin(plugin, "exiter")
    lines = accepted(cli("train", "dcgan", "--data", base["data"], *TINY, "--log-every", "1",
                         "--sample-every", "1", "--checkpoint-every", "1", "--steps", "3",
                         "--out", tmp_path, "--name", "r"))
    hooks = ("on_step_end", "on_log", "on_samples", "on_checkpoint")
    assert sorted(plugin.calls) == sorted(hooks)  # each called once, then disabled
    warnings = [ln for ln in lines if ln.startswith("Warning: ")]
    assert len(warnings) == 4, lines
    for hook in hooks:
        assert any(f"plugin 'exiter' raised in {hook}: {type(exc).__name__}" in w
                   for w in warnings), (hook, warnings)
    assert ckpt.latest_loadable(tmp_path / "r").step == 3  # the final checkpoint


def test_a_real_ctrl_c_during_an_observer_still_stops(plugins):
    """A KeyboardInterrupt from the SIGINT handler is the user's, not the plugin's."""
    class Slow:
        @hookimpl
        def on_step_end(self, trainer, step, losses):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)

    plugins.add_plugin(Slow(), "slow")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            plugins.notify("on_step_end", trainer=None, step=1, losses={})
    finally:
        signal.signal(signal.SIGINT, old)


# ---------------------------------------------------------- 3. no silent wrong results


def test_export_never_overwrites_and_counts_true(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "src"
    for i, name in enumerate(["a/cat.png", "b/cat.png", "b/dog.png", "Cat.jpg"]):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        arr = np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(arr).save(src / name)
    r = cli("datasets", "export", "imagefolder", tmp_path / "out", "--data", src,
            "--image-size", "32")
    accepted(r)
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["Cat.png", "cat-1.png", "cat-2.png", "dog.png"]
    contents = {(tmp_path / "out" / n).read_bytes() for n in out}
    assert len(contents) == 4  # four different images, none overwritten


def test_export_reports_the_true_count(tmp_path, capsys):
    from gankit.datasets_export import export_dataset, unique_names

    assert unique_names(["x/a.png", "y/a.png", "A.jpg", "", "a-1"], "set") == [
        "a.png", "a-1.png", "A-2.png", "set-00003.png", "a-1-1.png"]
    src = noise_pngs(tmp_path / "src" / "one", 2, names=["s.png", "t.png"])
    noise_pngs(tmp_path / "src" / "two", 1, names=["s.png"])
    assert export_dataset("imagefolder", tmp_path / "out", 32, str(src.parent)) == 3
    assert len(list((tmp_path / "out").rglob("*.png"))) == 3  # in class subfolders one/, two/


def test_sample_refuses_non_finite_weights(base, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    src = ckpt.list_checkpoints(base["run"])[-1]
    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(src))
    key = next(k for k in tensors if k.startswith("s.nets.G.") and k.endswith("weight"))
    tensors[key][0].view(-1)[0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    refused(cli("sample", bad, "-n", "4", "--out", tmp_path / "s.png"),
            "nan.safetensors", "non-finite", key, code=1)
    assert not (tmp_path / "s.png").exists()


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A small PNG file whose header claims w x h pixels (its data is one empty row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_timelapse_skips_unreadable_and_oversized_grids(base, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(base["run"], run)
    samples = run / "samples"
    (samples / "step-000003.png").write_bytes(b"\x89PNG broken")
    _png_header_only(samples / "step-000004.png", 100_000, 100_000)  # a bomb: 10^10 px
    _png_header_only(samples / "step-000005.png", 9000, 9000)  # over 8192^2, under Pillow's
    lines = accepted(CliRunner().invoke(make_cli(), ["timelapse", str(run)],
                                        catch_exceptions=False))
    warnings = [ln for ln in lines if ln.startswith("Warning: ")]
    assert len(warnings) == 2, lines
    assert "1 unreadable grid(s)" in warnings[0] and "step-000003.png" in warnings[0]
    assert "2 grid(s) over 67,108,864 pixels" in warnings[1]
    assert "step-000004.png" in warnings[1] and "step-000005.png" in warnings[1]
    with Image.open(run / "timelapse.gif") as gif:
        assert gif.n_frames == 2  # the two good grids


def test_unknown_name_in_gankit_load_plugins(monkeypatch):
    from gankit.plugins import Plugins

    warned = []
    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", "no-such-plugin, dcgan")
    Plugins(warn=warned.append).load_entry_points()
    assert len(warned) == 1, warned
    assert "GANKIT_LOAD_PLUGINS" in warned[0] and "'no-such-plugin'" in warned[0]
    warned.clear()
    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", "")
    Plugins(warn=warned.append).load_entry_points()
    assert warned == []


def test_unreadable_subfolder_is_warned_about(tmp_path, monkeypatch):
    from gankit.imageio import list_images

    noise_pngs(tmp_path / "ok", 2, names="img{i}.png")
    noise_pngs(tmp_path / "locked", 2, names="img{i}.png")
    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    warned = []
    found = list_images(tmp_path, warn=warned.append)
    assert [p.name for p in found] == ["img0.png", "img1.png"]
    assert len(warned) == 1 and "locked" in warned[0] and "Permission denied" in warned[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_unreadable_subfolder_for_real(tmp_path):
    from gankit.imageio import list_images

    noise_pngs(tmp_path / "ok", 1, names="img{i}.png")
    noise_pngs(tmp_path / "locked", 1, names="img{i}.png")
    (tmp_path / "locked").chmod(0)
    try:
        warned = []
        assert len(list_images(tmp_path, warn=warned.append)) == 1
        assert len(warned) == 1 and "locked" in warned[0]
    finally:
        (tmp_path / "locked").chmod(0o755)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_files_are_written_with_the_users_umask(base, tmp_path, monkeypatch):
    """Every file of a tiny run (checkpoints, grids, logs, status, config, timelapse, the
    decoded-image cache), of `gankit sample`, `interpolate --gif`, `direction fit` and
    `datasets export`."""
    import shutil

    monkeypatch.chdir(tmp_path)
    want = 0o666 & ~_umask()
    shutil.copytree(base["data"], "data", ignore=shutil.ignore_patterns(".*"))
    accepted(cli("train", "dcgan", "--data", "data", *TINY, "--log-every", "1",
                 "--sample-every", "1", "--checkpoint-every", "1", "--steps", "2",
                 "--timelapse", "--out", "runs", "--name", "r"))
    run = tmp_path / "runs" / "r"
    accepted(cli("sample", run, "-n", "4", "--out", "s.png"))
    accepted(cli("sample", run, "-n", "2", "--out", "each/"))
    accepted(cli("interpolate", run, "--steps", "3", "--gif", "--out", "walk"))
    accepted(cli("direction", "fit", "up", run, "--positive", "0-3", "--negative", "4-7"))
    accepted(cli("datasets", "export", "imagefolder", "exported", "--data", base["data"],
                 "--image-size", "32"))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.relative_to(tmp_path).as_posix() for p in files}
    for expected in ("runs/r/checkpoints/step-0000002.safetensors", "runs/r/config.json",
                     "runs/r/metrics.jsonl", "runs/r/status.json", "runs/r/timelapse.gif",
                     "runs/r/samples/step-000002.png", "runs/r/directions/up.safetensors",
                     "s.png", "each/seed00000.png", "walk/interpolation.gif",
                     "walk/frame-000.png", "exported/img0.png",
                     "data/.gankit-cache/images-32px-auto.safetensors"):
        assert expected in names, (expected, sorted(names))
    wrong = {p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
             for p in files if stat.S_IMODE(p.stat().st_mode) != want}
    assert not wrong, (oct(want), wrong)
