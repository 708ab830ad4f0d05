"""`gankit data check DIR` and gankit.datacheck on folders written here."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from gankit import GankitError, UsageError
from gankit.datacheck import check_folder, flip_verdict, image_facts, recommended_size


def natural(rng, size=48):
    """A colourful smooth image with noise: no text, no preferred direction."""
    base = rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC))
    noisy = img.astype(np.int16) + rng.integers(-20, 20, img.shape)
    return noisy.clip(0, 255).astype(np.uint8)


def digits(rng, size=32):
    """Black two-digit numbers on white, like scanned text."""
    img = Image.new("L", (size, size), 255)
    ImageDraw.Draw(img).text((int(rng.integers(2, 12)), int(rng.integers(2, 12))),
                             str(int(rng.integers(10, 99))), fill=0,
                             font=ImageFont.load_default())
    return np.asarray(img)


def write_natural(folder, n=24, seed=0, size=48):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(natural(rng, size)).save(folder / f"img-{i:03d}.png")
    return folder


def write_digits(folder, n=40, seed=1):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(digits(rng)).save(folder / f"digit-{i:03d}.png")
    return folder


@pytest.fixture
def messy(tmp_path):
    """Natural images plus an exact copy, a resized JPEG copy, a brightened copy, a
    truncated PNG, a text file named .png and a notes file."""
    root = write_natural(tmp_path / "messy")
    shutil.copy(root / "img-000.png", root / "exact-copy.png")
    src = Image.open(root / "img-001.png")
    buf = io.BytesIO()
    src.resize((36, 36), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=90)
    (root / "small-copy.jpg").write_bytes(buf.getvalue())
    bright = (np.asarray(Image.open(root / "img-002.png")).astype(np.int16) + 8).clip(0, 255)
    Image.fromarray(bright.astype(np.uint8)).save(root / "bright-copy.png")
    data = (root / "img-003.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "not-an-image.png").write_text("hello")
    (root / "notes.txt").write_text("notes")
    return root


def test_counts_unreadable_files_and_skipped_extensions(messy):
    r = check_folder(messy)
    assert r["files"] == 29 and r["readable"] == 27
    bad = {u["file"]: u["reason"] for u in r["unreadable"]}
    assert set(bad) == {"truncated.png", "not-an-image.png"}
    assert "not a recognised image format" in bad["not-an-image.png"]
    assert bad["truncated.png"].startswith("cannot read image")
    assert r["skipped"] == {".txt": 1}
    assert any("cannot be read" in w for w in r["warnings"])


def test_exact_and_near_duplicates(messy):
    r = check_folder(messy)
    assert r["exact_duplicates"] == [["exact-copy.png", "img-000.png"]]
    near = sorted(sorted(g) for g in r["near_duplicates"])
    assert near == [["bright-copy.png", "img-002.png"], ["img-001.png", "small-copy.jpg"]]
    # distinct natural images are not near duplicates of each other
    assert not any("img-010.png" in g for g in r["near_duplicates"])
    # a threshold of 0 keeps only (thumbnail-)identical images
    assert check_folder(messy, near_threshold=0)["near_duplicates"] == []


def test_flat_images_of_different_colours_are_not_near_duplicates(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(root / "red.png")
    Image.new("RGB", (32, 32), (30, 30, 200)).save(root / "blue.png")
    Image.new("RGB", (32, 32), (202, 30, 30)).save(root / "red2.png")
    r = check_folder(root)
    assert r["near_duplicates"] == [["red.png", "red2.png"]]


def test_sizes_modes_and_recommended_image_size(tmp_path):
    root = tmp_path / "sizes"
    root.mkdir()
    rng = np.random.default_rng(3)
    for i in range(9):
        Image.fromarray(natural(rng, 160)).resize((180, 150)).save(root / f"big-{i}.png")
    Image.fromarray(natural(rng, 40)).convert("L").save(root / "gray.png")
    r = check_folder(root)
    assert r["sizes"]["width"] == {"min": 40, "median": 180, "max": 180}
    assert r["sizes"]["short_side"]["min"] == 40
    assert r["sizes"]["most_common"][0] == {"size": "180x150", "count": 9}
    assert r["sizes"]["reach"] == {"32": 10, "64": 9, "128": 9, "256": 0}
    assert r["recommended_image_size"] == 128  # 9 of 10 reach 128 px
    assert r["modes"] == {"RGB": 9, "L": 1} and r["gray"] == 1
    assert any("1 image(s) are smaller than 128 px" in w for w in r["warnings"])


def test_recommended_size_rule():
    assert recommended_size([300] * 10) == (256, {32: 10, 64: 10, 128: 10, 256: 10})
    assert recommended_size([300] * 8 + [50] * 2)[0] == 32  # only 80 % reach 64
    assert recommended_size([20] * 5)[0] == 32  # nothing reaches 32: the smallest


def test_flip_heuristic_digits_unsafe_natural_safe(tmp_path):
    d = check_folder(write_digits(tmp_path / "digits"))
    n = check_folder(write_natural(tmp_path / "natural", n=40, seed=5))
    assert d["flip"]["verdict"] == "unsafe" and d["flip"]["text_like"] == 1.0
    assert d["flip"]["mirror_ratio"] > 1.25
    assert n["flip"]["verdict"] == "safe" and n["flip"]["text_like"] == 0.0
    assert n["flip"]["mirror_ratio"] < 1.1
    assert any("--no-flip" in w for w in d["warnings"])
    assert not any("flips" in w for w in n["warnings"])


def test_text_like_image_facts():
    rng = np.random.default_rng(4)
    assert image_facts(digits(rng)[..., None]).text_like
    assert not image_facts(natural(rng)).text_like
    # a small red object on black is two-tone but colourful: not text
    obj = np.zeros((48, 48, 3), np.uint8)
    obj[20:30, 10:40] = (220, 30, 40)
    assert not image_facts(obj).text_like


def test_diagonal_skew_sign_flips_with_the_mirror():
    rng = np.random.default_rng(6)
    imgs = [natural(rng) for _ in range(5)]
    a = flip_verdict([image_facts(x) for x in imgs])["diagonal_skew"]
    b = flip_verdict([image_facts(np.ascontiguousarray(x[:, ::-1])) for x in imgs])["diagonal_skew"]
    assert a == pytest.approx(-b, abs=1e-3) and a != 0


def test_cyclegan_layout_counts_per_domain(tmp_path):
    root = tmp_path / "h2z"
    write_natural(root / "trainA", n=5, seed=1)
    write_natural(root / "trainB", n=3, seed=2)
    write_natural(root / "testA", n=2, seed=3)
    (root / "trainB" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    r = check_folder(root)
    assert r["layout"] == "cyclegan"
    assert r["domains"] == {"trainA": {"files": 5, "readable": 5},
                            "trainB": {"files": 4, "readable": 3},
                            "testA": {"files": 2, "readable": 2}}
    assert r["unreadable"][0]["file"] == "trainB/broken.jpg"
    flat = check_folder(write_natural(tmp_path / "plain", n=3))
    assert flat["layout"] == "flat" and flat["domains"] is None


def test_ab_layout_and_unbalanced_domains(tmp_path):
    root = tmp_path / "ab"
    write_natural(root / "A", n=22, seed=1, size=32)
    write_natural(root / "B", n=2, seed=2, size=32)
    r = check_folder(root)
    assert r["layout"] == "cyclegan" and set(r["domains"]) == {"A", "B"}
    assert any("unbalanced" in w for w in r["warnings"])


def test_small_data_note(tmp_path):
    r = check_folder(write_natural(tmp_path / "few", n=4))
    assert any("gankit turns augmentation and EMA on for small folders" in n for n in r["notes"])


def test_missing_file_and_empty_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        check_folder(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(UsageError, match="not a folder"):
        check_folder(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(GankitError, match="no image files found"):
        check_folder(tmp_path / "empty")


# -- the command ---------------------------------------------------------------------


def test_cli_report(run_cli, messy):
    res = run_cli("data", "check", messy)
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "recommended: --image-size 32" in out
    assert "exact duplicates" in out and "exact-copy.png" in out
    assert "truncated.png" in out
    assert "heuristic" in out and "--no-flip" in out
    assert "Warning: 2 of 29 image files cannot be read" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_json_is_clean_and_complete(run_cli, messy):
    res = run_cli("--quiet", "data", "check", messy, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["readable"] == 27 and report["recommended_image_size"] == 32
    assert report["flip"]["heuristic"] is True
    assert "Warning:" in res.stderr  # warnings stay on stderr


def test_cli_errors_are_one_line(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_cli("data", "check", tmp_path / "empty")
    assert res.exit_code == 1
    assert res.stderr.strip().count("\n") == 0 and "no image files found" in res.stderr
    res = run_cli("data", "check", tmp_path / "missing")
    assert res.exit_code == 2 and "no such folder" in res.stderr
    assert res.stderr.strip().count("\n") == 0


def test_cli_all_unreadable_reports_then_fails(run_cli, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_text("x")
    (root / "b.jpg").write_bytes(b"")
    res = run_cli("data", "check", root)
    assert res.exit_code == 1
    assert "a.png" in res.stdout and "b.jpg" in res.stdout
    assert "none of the 2 image files could be read" in res.stderr


def test_help_lists_the_command(run_cli):
    res = run_cli("--help")
    assert " data " in res.stdout
    res = run_cli("data", "check", "--help")
    assert "--near-threshold" in res.stdout and "--json" in res.stdout
