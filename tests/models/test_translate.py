"""`gankit translate`: files and folders, any image mode, corrupt files, sizes, refusals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from gankit.cli.translate import decode, split_run
from gankit.errors import UsageError


def _domain(folder, colour, n=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(sum(colour))
    for i in range(n):
        arr = np.clip(np.array(colour) + rng.integers(-30, 30, (40, 40, 3)), 0, 255)
        Image.fromarray(arr.astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    """A tiny CycleGAN trained for two steps."""
    from gankit import console
    from gankit.plugins import Plugins
    from gankit.train import TrainOptions
    from kit import prepare

    root = tmp_path_factory.mktemp("cg")
    a = _domain(root / "A", (200, 40, 40))
    b = _domain(root / "B", (40, 40, 200))
    plugins = Plugins()
    plugins.load_entry_points()
    console.set_quiet(True)
    opts = TrainOptions(model="cyclegan", data=str(a), data_b=str(b), image_size=32,
                        batch_size=2, steps=2, sample_every=0, out=str(root / "runs"), name="cg",
                        device="cpu")
    t = prepare(opts, sets={"ngf": "8", "ndf": "8", "n_blocks": "2"}, plugins=plugins)
    t.fit()
    console.set_quiet(False)
    return t.run_dir


def _inputs(folder):
    """An RGBA, a grayscale, a nested JPEG, a palette GIF and a corrupt PNG."""
    (folder / "sub").mkdir(parents=True)
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 20:, 3] = 255  # left half fully transparent red
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    gray = np.tile(np.arange(24, dtype=np.uint8) * 10, (36, 1))
    Image.fromarray(gray, "L").save(folder / "gray.png")
    Image.fromarray(np.full((33, 45, 3), 128, np.uint8)).save(folder / "sub" / "photo.jpg")
    Image.new("P", (20, 28), 3).save(folder / "anim.gif")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10)
    return folder


def test_translate_a_folder_of_mixed_images(run_cli, cyclegan_run, tmp_path):
    src = _inputs(tmp_path / "in")
    res = run_cli("translate", cyclegan_run, src, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    out = tmp_path / "out"
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["anim.png", "gray.png", "rgba.png", "sub/photo.jpg"]  # names kept
    for name, size in (("rgba.png", (40, 30)), ("gray.png", (24, 36)), ("sub/photo.jpg", (45, 33)),
                       ("anim.png", (20, 28))):
        with Image.open(out / name) as im:
            assert im.size == size and im.mode == "RGB"  # the input's size by default
    warnings = [line for line in res.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "corrupt.png" in warnings[0]
    assert "translated 4 image(s) a2b" in res.stderr and "skipped 1 unreadable" in res.stderr
    assert "Traceback" not in res.stderr


def test_side_by_side_sizes_and_directions(run_cli, cyclegan_run, tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (30, 44, 3)).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "x.png")

    res = run_cli("translate", cyclegan_run, "x.png", "--side-by-side", "--out", "sbs")
    assert res.exit_code == 0
    with Image.open(tmp_path / "sbs" / "x.png") as im:
        pair = np.asarray(im)
    assert pair.shape == (30, 88, 3)
    assert np.array_equal(pair[:, :44], img)  # the input on the left, untouched

    res = run_cli("translate", cyclegan_run, "x.png", "--size", "64", "--out", "big")
    assert res.exit_code == 0
    with Image.open(tmp_path / "big" / "x.png") as im:
        assert im.size == (94, 64)  # shorter side 64, aspect kept
    assert run_cli("translate", cyclegan_run, "x.png", "--full-res", "--out", "full").exit_code == 0
    assert run_cli("translate", cyclegan_run, "x.png", "--direction", "b2a", "--out",
                   "back").exit_code == 0
    full, back, sbs = (np.asarray(Image.open(tmp_path / d / "x.png"))
                       for d in ("full", "back", "sbs"))
    assert full.shape == back.shape == (30, 44, 3)
    a2b = sbs[:, 44:]
    assert not np.array_equal(back, a2b)  # the other generator
    assert not np.array_equal(full, a2b)  # translated at 44x30, not 32 px


def test_newest_run_is_the_default(run_cli, cyclegan_run, tmp_path):
    shutil.copytree(cyclegan_run, tmp_path / "runs" / "mine")
    Image.new("RGB", (32, 32), (10, 200, 10)).save(tmp_path / "g.png")
    res = run_cli("translate", "g.png")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "translated" / "g.png").is_file()
    assert "runs/mine/checkpoints" in res.stderr.replace("\\", "/")
    # a folder of runs given as RUN works too
    res = run_cli("translate", "runs", "g.png", "--out", "o2")
    assert res.exit_code == 0 and (tmp_path / "o2" / "g.png").is_file()


def test_argument_errors(run_cli, cyclegan_run, tmp_path):
    res = run_cli("translate", cyclegan_run)
    assert res.exit_code == 2 and "give INPUT images" in res.stderr
    res = run_cli("translate", cyclegan_run, "missing.png")
    assert res.exit_code == 1 and "missing.png: no such file or folder" in res.stderr
    res = run_cli("translate", cyclegan_run, "x.png", "--size", "8", "--keep-size")
    assert res.exit_code == 2
    (tmp_path / "bad.png").write_bytes(b"nope")
    res = run_cli("translate", cyclegan_run, "bad.png")
    assert res.exit_code == 1 and "none of the 1 input file(s) could be read" in res.stderr
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    res = run_cli("translate", cyclegan_run, tmp_path, "--out", tmp_path)
    assert res.exit_code == 1 and "would overwrite the input" in res.stderr
    with pytest.raises(UsageError):
        split_run(())


def test_unconditional_model_is_refused(run_cli, tmp_path):
    res = run_cli("train", "dcgan", "--image-size", "32", "--set", "ngf=8", "--set", "ndf=8",
                  "--batch-size", "8", "--steps", "1", "--sample-every", "0", "--name", "dc",
                  "--quiet")
    assert res.exit_code == 0, res.stderr
    Image.new("RGB", (32, 32)).save(tmp_path / "p.png")
    res = run_cli("translate", tmp_path / "runs" / "dc", "p.png")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: 'dcgan' is")
    assert "unconditional" in lines[0] and "gankit sample" in lines[0]
    assert not (tmp_path / "translated").exists()


def test_decode_any_mode(tmp_path):
    p = tmp_path / "img"
    # transparency composites on black, as the training loader does
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255
    rgba[2:, :, 3] = 0
    Image.fromarray(rgba, "RGBA").save(p.with_suffix(".png"))
    arr = np.asarray(decode(p.with_suffix(".png")))
    assert arr.shape == (4, 4, 3) and (arr[:2] == 200).all() and (arr[2:] == 0).all()
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    la.save(tmp_path / "la.png")
    assert np.asarray(decode(tmp_path / "la.png", channels=1))[2:].max() == 0
    # palette with a transparent index
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 250, 250, 250] + [0] * 762)
    pal.save(tmp_path / "p.png", transparency=1)
    assert np.asarray(decode(tmp_path / "p.png")).max() == 0
    # 16-bit grayscale scales to 8 bit
    Image.fromarray(np.full((3, 3), 65535, np.uint16)).save(tmp_path / "g16.png")
    g = np.asarray(decode(tmp_path / "g16.png"))
    assert g.shape == (3, 3, 3) and (g == 255).all()
    # CMYK converts to RGB; a grayscale model gets L
    Image.new("CMYK", (5, 5), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    c = np.asarray(decode(tmp_path / "c.jpg")).astype(int)
    assert c.shape == (5, 5, 3) and c[..., 0].mean() > 200 and c[..., 1].mean() < 60
    assert decode(tmp_path / "c.jpg", channels=1).mode == "L"
    # EXIF orientation is applied
    im = Image.new("RGB", (6, 2))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90
    im.save(tmp_path / "o.jpg", exif=exif)
    assert decode(tmp_path / "o.jpg").size == (2, 6)
