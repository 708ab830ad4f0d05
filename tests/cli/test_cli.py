"""Command-line behaviour of the core commands."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import gankit

from kit import noise_pngs


def test_version(run_cli):
    res = run_cli("--version")
    assert res.exit_code == 0 and gankit.__version__ in res.stdout


def test_python_dash_m(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gankit", "--version"], capture_output=True,
                         text=True, check=True)
    assert gankit.__version__ in out.stdout


def test_help_does_not_import_torch():
    code = ("import sys\nfrom gankit.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
    assert "train" in out.stdout and "sample" in out.stdout


def test_importtime_of_help_has_no_torch():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "gankit", "--help"],
                         capture_output=True, text=True)
    modules = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "click" in modules
    heavy = ("torch", "numpy", "PIL")  # each costs 0.1-2 s: none of them for --help
    assert not any(m == h or m.startswith(h + ".") for m in modules for h in heavy), \
        sorted(m for m in modules if m.split(".")[0] in heavy)[:5]


@pytest.fixture(scope="module")
def tiny_run(trained_run):
    """One tiny trained run shared by the sampling tests (they only read it)."""
    return trained_run(steps=2, sample_every=0)


def test_sample_grid_dir_and_npy(run_cli, tiny_run, tmp_path):
    res = run_cli("sample", tiny_run, "-n", "6", "--out", tmp_path / "g.png")
    assert res.exit_code == 0, res.stderr
    with Image.open(tmp_path / "g.png") as im:
        assert im.size == (3 * 32 + 4 * 2, 2 * 32 + 3 * 2)  # 3 columns, 2 rows
    res = run_cli("sample", tiny_run, "-n", "3", "--seed", "5", "--out", str(tmp_path / "d") + "/")
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "seed00005.png", "seed00006.png", "seed00007.png"]
    res = run_cli("sample", tiny_run, "-n", "4", "--out", tmp_path / "x.npy")
    arr = np.load(tmp_path / "x.npy", allow_pickle=False)
    assert arr.shape == (4, 3, 32, 32) and arr.min() >= -1 and arr.max() <= 1


def test_sample_seed_is_reproducible_per_sample(run_cli, tiny_run, tmp_path):
    run_cli("sample", tiny_run, "--seeds", "7", "--out", tmp_path / "a.npy")
    run_cli("sample", tiny_run, "--seeds", "5-8", "--out", tmp_path / "b.npy")
    a = np.load(tmp_path / "a.npy")
    b = np.load(tmp_path / "b.npy")
    np.testing.assert_allclose(a[0], b[2], atol=1e-5)


def test_sample_from_checkpoint_file_alone(run_cli, tiny_run, tmp_path):
    ck = sorted((tiny_run / "checkpoints").glob("*.safetensors"))[-1]
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(ck.read_bytes())
    res = run_cli("sample", lone, "-n", "4", "--out", tmp_path / "s.png")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "s.png").exists()


def test_sample_newest_run_by_default(run_cli, tiny_run, tmp_path):
    import shutil

    shutil.copytree(tiny_run, tmp_path / "runs" / "copied")
    res = run_cli("sample", "-n", "1", "--out", "one.png")
    assert res.exit_code == 0, res.stderr
    assert "copied" in res.stderr and (tmp_path / "one.png").exists()


def test_sample_without_runs_is_one_clear_line(run_cli):
    res = run_cli("sample")
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: no trained run")


def test_datasets_export_sushi(run_cli, tmp_path):
    res = run_cli("datasets", "export", "sushi", tmp_path / "sushi", "--image-size", "32")
    assert res.exit_code == 0, res.stderr
    files = sorted((tmp_path / "sushi").glob("*/*.png"))  # one subfolder per kind
    assert len(files) == 256
    with Image.open(files[0]) as im:
        assert im.size == (32, 32) and im.mode == "RGB"
        assert im.getpixel((0, 0)) == (0, 0, 0)  # cut out on black


def test_train_on_folder_skips_corrupt_files(run_cli, tiny, tmp_path):
    data = tmp_path / "pics"
    noise_pngs(data, 10)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (data / "empty.jpg").write_bytes(b"")
    res = run_cli("train", "dcgan", "--data", data, *tiny, "--steps", "2", "--name", "f",
                  "--quiet")
    assert res.exit_code == 0, res.stderr
    warn = [line for line in res.stderr.splitlines() if "skipped" in line]
    assert len(warn) == 1 and "2 unreadable" in warn[0]
    cfg = json.loads((tmp_path / "runs" / "f" / "config.json").read_text())
    assert cfg["data"]["size"] == 32


def test_grayscale_folder_trains_one_channel(run_cli, tiny, tmp_path):
    data = tmp_path / "gray"
    noise_pngs(data, 8, mode="L")
    res = run_cli("train", "dcgan", "--data", data, *tiny, "--steps", "1", "--name", "g", "--quiet")
    assert res.exit_code == 0, res.stderr
    cfg = json.loads((tmp_path / "runs" / "g" / "config.json").read_text())
    assert cfg["data"]["channels"] == 1


@pytest.mark.parametrize("setup,needle", [
    (lambda p: None, "no such file or directory"),
    (lambda p: p.mkdir(), "no image files"),
    (lambda p: (p.mkdir(), (p / "a.txt").write_text("x")), "no image files"),
])
def test_bad_data_folder_is_one_line(run_cli, tmp_path, setup, needle):
    target = tmp_path / "data"
    setup(target)
    res = run_cli("train", "dcgan", "--data", target, "--steps", "1")
    assert res.exit_code != 0
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("Error: --data") and needle in res.stderr.lower()
    assert "Traceback" not in res.stderr


def test_unsupported_image_size_lists_supported(run_cli):
    res = run_cli("train", "dcgan", "--image-size", "50", "--steps", "1")
    assert res.exit_code != 0
    assert res.stderr.startswith("Error: --image-size 50: dcgan cannot build that size")
    assert "28, 32, 40, 48, 56, 64" in res.stderr


def test_dcgan_sizes():
    from gankit.nn import size_plan, supported_sizes

    assert size_plan(64) == (4, 4)
    assert size_plan(96) == (3, 5)
    assert size_plan(28) == (7, 2)
    assert size_plan(96, bottom=12) == (12, 3)  # the sushi article's bottom_width
    sizes = supported_sizes(256)
    assert {28, 32, 48, 64, 96, 128, 192, 256} <= set(sizes)
    assert 50 not in sizes and 24 not in sizes


@pytest.mark.parametrize("size", [28, 48, 96])
def test_dcgan_builds_each_size(size):
    import torch

    from gankit.datasets import DataSpec
    from gankit.plugins import get_plugins

    model = get_plugins().models().get("dcgan")
    cfg = model.default_config()
    cfg.ngf = cfg.ndf = 4
    spec = DataSpec(channels=1, size=size)
    nets = model.build(cfg, spec)
    x = nets["G"](torch.randn(2, cfg.z_dim))
    assert x.shape == (2, 1, size, size) and x.abs().max() <= 1
    assert nets["D"](x).shape == (2,)


def test_set_unknown_key_did_you_mean(run_cli):
    res = run_cli("train", "dcgan", "--set", "ngff=8", "--steps", "1")
    assert res.exit_code != 0
    assert "unknown --set key for dcgan 'ngff'; did you mean 'ngf'?" in res.stderr


def test_set_bad_value_names_flag(run_cli):
    res = run_cli("train", "dcgan", "--set", "ngf=wide", "--steps", "1")
    assert res.exit_code == 2
    assert res.stderr.strip() == "Error: --set ngf=wide: expected int"
