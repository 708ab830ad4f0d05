"""Tests for plugins/gankit_datasets/images.py, on real files written to tmp_path."""

from __future__ import annotations

import gzip
import os
import struct
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from kit import ROOT

for extra in (ROOT, ROOT / "plugins"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from gankit.errors import GankitError  # noqa: E402
from gankit_datasets import images  # noqa: E402
from gankit_datasets.images import (  # noqa: E402
    decode_image,
    list_images,
    load_cifar10,
    load_image_folder,
    load_mnist,
)


def noise(w, h, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def solid(path, color=(200, 30, 60), mode="RGB", size=(8, 8), **save):
    Image.new(mode, size, color).save(path, **save)
    return path


# ------------------------------------------------------------------------ decode_image

def test_rgba_composited_on_black(tmp_path):
    im = Image.new("RGBA", (2, 2), (255, 255, 255, 0))
    im.putpixel((1, 0), (200, 100, 50, 255))
    im.putpixel((0, 1), (200, 100, 50, 128))
    im.save(tmp_path / "a.png")
    arr = decode_image(tmp_path / "a.png", None)
    assert arr.shape == (2, 2, 3) and arr.dtype == np.uint8
    assert arr[0, 0].tolist() == [0, 0, 0]
    assert arr[0, 1].tolist() == [200, 100, 50]
    assert arr[1, 0].tolist() == [100, 50, 25]


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([255, 255, 255, 255, 0, 0])
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "p.png", transparency=0)
    arr = decode_image(tmp_path / "p.png", None)
    assert arr[0, 0].tolist() == [0, 0, 0]
    assert arr[0, 1].tolist() == [255, 0, 0]


def test_la_is_gray_with_alpha(tmp_path):
    im = Image.new("LA", (2, 1), (200, 0))
    im.putpixel((1, 0), (200, 255))
    im.save(tmp_path / "la.png")
    assert decode_image(tmp_path / "la.png", None, "auto")[..., 0].tolist() == [[0, 200]]
    rgb = decode_image(tmp_path / "la.png", None)
    assert rgb.shape == (1, 2, 3) and rgb[0, 1].tolist() == [200, 200, 200]


def test_16bit_png_scaled(tmp_path):
    values = np.array([[0, 65535], [257 * 100, 32768]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")
    arr = decode_image(tmp_path / "deep.png", None, "L")
    assert arr[..., 0].tolist() == [[0, 255], [100, 128]]
    assert decode_image(tmp_path / "deep.png", 4, "auto").shape == (4, 4, 1)


def test_cmyk_jpeg(tmp_path):
    solid(tmp_path / "c.jpg", (0, 255, 255, 0), mode="CMYK")  # red
    r, g, b = decode_image(tmp_path / "c.jpg", None).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


def test_exif_rotation(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    arr = decode_image(tmp_path / "rot.jpg", None)
    assert arr.shape == (40, 20, 3)
    assert arr[:18].mean() > 200 and arr[22:].mean() < 50  # white on top now
    small = decode_image(tmp_path / "rot.jpg", 10)  # crop keeps the centre
    assert small.shape == (10, 10, 3)


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    arr = decode_image(tmp_path / "anim.gif", 4)
    assert arr.reshape(-1, 3).tolist() == [[255, 0, 0]] * 16


def test_one_pixel(tmp_path):
    solid(tmp_path / "one.png", (10, 20, 30), size=(1, 1))
    arr = decode_image(tmp_path / "one.png", 8)
    assert arr.shape == (8, 8, 3)
    assert np.abs(arr.astype(int) - [10, 20, 30]).max() <= 1


def test_big_jpeg(tmp_path):
    noise(600, 400).resize((6000, 4000), Image.Resampling.NEAREST).save(tmp_path / "big.jpg")
    start = time.perf_counter()
    arr = decode_image(tmp_path / "big.jpg", 64)
    assert arr.shape == (64, 64, 3)
    assert time.perf_counter() - start < 2.0  # draft mode: decoded at 1/8 scale


def test_decompression_bomb_refused(tmp_path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(GankitError, match=r"bomb\.png: cannot read image .*decompression bomb"):
        decode_image(tmp_path / "bomb.png", 64)
    assert Image.MAX_IMAGE_PIXELS == before


def test_non_square_center_crop(tmp_path):
    im = Image.new("RGB", (30, 10), (255, 0, 0))
    im.paste((0, 255, 0), (10, 0, 20, 10))
    im.paste((0, 0, 255), (20, 0, 30, 10))
    im.save(tmp_path / "wide.png")
    assert (decode_image(tmp_path / "wide.png", 10).reshape(-1, 3) == [0, 255, 0]).all()
    small = decode_image(tmp_path / "wide.png", 5)  # LANCZOS bleeds a little at the edges
    assert small.shape == (5, 5, 3) and np.abs(small[2, 2].astype(int) - [0, 255, 0]).max() <= 3


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_and_empty(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    noise(64, 64).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for size in (None, 16):
        with pytest.raises(GankitError, match=r"cannot read image \(.*truncated"):
            decode_image(path, size)
    path.write_bytes(b"")
    with pytest.raises(GankitError, match=r"x\.\w+: cannot read image \(empty file\)"):
        decode_image(path, 16)


def test_not_an_image(tmp_path):
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(GankitError, match="fake.png: cannot read image .not a recognised"):
        decode_image(tmp_path / "fake.png", 8)
    with pytest.raises(GankitError, match="cannot read image"):
        decode_image(tmp_path / "missing.png", 8)


# ------------------------------------------------------------------- load_image_folder

def make_folder(root, n=4, mode="RGB"):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        color = (i * 40, 255 - i * 40, 7) if mode == "RGB" else i * 40
        solid(root / f"img{i}.png", color, mode=mode, size=(12, 9))
    return root


def test_list_images(tmp_path):
    for rel in ("b.PNG", "a.jpg", "sub/c.webp", "sub/.hidden.png", ".git/d.png", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["a.jpg", "b.PNG", "sub/c.webp"]


def test_folder_basic_and_progress(tmp_path):
    root = make_folder(tmp_path / "data")
    calls = []
    arr, names = load_image_folder(root, 8, progress=lambda d, t: calls.append((d, t)))
    assert arr.shape == (4, 8, 8, 3) and arr.dtype == np.uint8
    assert names == [f"img{i}.png" for i in range(4)]
    assert arr[1, 4, 4].tolist() == [40, 215, 7]
    assert calls[-1] == (4, 4) and len(calls) == 4
    assert list((root / ".gankit-cache").glob("*.safetensors"))


def test_folder_skips_corrupt_with_one_warning(tmp_path):
    root = make_folder(tmp_path / "data", 2)
    for name in ("bad1.png", "bad2.jpg", "bad3.png", "bad4.gif"):
        (root / name).write_bytes(b"" if name == "bad1.png" else b"garbage")
    warnings = []
    arr, names = load_image_folder(root, 8, warn=warnings.append, cache=False)
    assert names == ["img0.png", "img1.png"] and arr.shape[0] == 2
    assert warnings == [f"skipped 4 unreadable image file(s) in {root}: "
                        "bad1.png, bad2.jpg, bad3.png, ..."]


def test_folder_errors(tmp_path):
    with pytest.raises(GankitError, match=r"^--data .*nope: no such file or directory$"):
        load_image_folder(tmp_path / "nope", 8)
    solid(tmp_path / "file.png")
    with pytest.raises(GankitError, match="not a directory"):
        load_image_folder(tmp_path / "file.png", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match=r"empty: no image files found .*\.png, \.jpg"):
        load_image_folder(tmp_path / "empty", 8)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(GankitError, match="no image files found"):
        load_image_folder(tmp_path / "text", 8)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_text("x")
    with pytest.raises(GankitError, match="none of the 1 image files could be read"):
        load_image_folder(tmp_path / "bad", 8, warn=lambda m: None)


def test_grayscale_modes(tmp_path):
    gray = make_folder(tmp_path / "gray", 3, mode="L")
    assert load_image_folder(gray, 8)[0].shape == (3, 8, 8, 1)
    assert load_image_folder(gray, 8, grayscale="never")[0].shape == (3, 8, 8, 3)
    mixed = make_folder(tmp_path / "mixed", 2, mode="L")
    solid(mixed / "rgb.png", (1, 2, 3))
    arr, names = load_image_folder(mixed, 8)
    assert arr.shape == (3, 8, 8, 3)
    assert arr[1, 0, 0].tolist() == [40, 40, 40]  # gray image replicated
    assert load_image_folder(mixed, 8, grayscale="always")[0].shape == (3, 8, 8, 1)


def test_cache_hit_and_invalidation(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "data", 3)
    first, names = load_image_folder(root, 8)
    real = images.decode_image

    def refuse(*a, **k):
        raise AssertionError("decoded despite a valid cache")

    monkeypatch.setattr(images, "decode_image", refuse)
    again, names2 = load_image_folder(root, 8)
    assert np.array_equal(first, again) and names == names2

    decoded = []
    monkeypatch.setattr(images, "decode_image", lambda p, *a: decoded.append(p) or real(p, *a))
    solid(root / "img1.png", (9, 9, 9), size=(20, 20))
    st = (root / "img1.png").stat()
    os.utime(root / "img1.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed, _ = load_image_folder(root, 8)
    assert decoded and changed[1, 0, 0].tolist() == [9, 9, 9]

    decoded.clear()
    solid(root / "img9.png")
    added, names3 = load_image_folder(root, 8)
    assert decoded and names3[-1] == "img9.png" and added.shape[0] == 4

    decoded.clear()
    load_image_folder(root, 8)
    assert not decoded  # rebuilt cache is used
    load_image_folder(root, 16)  # another size: another cache file
    assert decoded


def test_cache_rewarns_skipped_files(tmp_path):
    root = make_folder(tmp_path / "data", 2)
    (root / "broken.png").write_bytes(b"junk")
    for _ in range(2):
        warnings = []
        load_image_folder(root, 8, warn=warnings.append)
        assert warnings == [f"skipped 1 unreadable image file(s) in {root}: broken.png"]


def test_corrupt_cache_rebuilt(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "data", 2)
    first, _ = load_image_folder(root, 8)
    (cache_file,) = (root / ".gankit-cache").glob("*.safetensors")
    cache_file.write_bytes(b"\xff" * 100)
    warnings = []
    again, _ = load_image_folder(root, 8, warn=warnings.append)
    assert np.array_equal(first, again)
    assert len(warnings) == 1 and "rebuilding" in warnings[0]
    monkeypatch.setattr(images, "decode_image", None)  # must now hit the rewritten cache
    assert np.array_equal(load_image_folder(root, 8)[0], first)
    assert not [p for p in cache_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_cache_falls_back_to_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    root = make_folder(tmp_path / "data", 2)
    (root / ".gankit-cache").write_text("a file, so no cache folder can be made here")
    first, _ = load_image_folder(root, 8)
    assert list((tmp_path / "home-cache" / "gankit").glob("*/*.safetensors"))
    monkeypatch.setattr(images, "decode_image", None)
    assert np.array_equal(load_image_folder(root, 8)[0], first)


# ------------------------------------------------------------------- MNIST and CIFAR-10

def idx_images(n, rows=28, cols=28):
    pixels = (np.arange(n * rows * cols) % 251).astype(np.uint8)
    return struct.pack(">IIII", 2051, n, rows, cols) + pixels.tobytes(), pixels


def idx_labels(n):
    return struct.pack(">II", 2049, n) + bytes(range(n))


def test_mnist_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data, pixels = idx_images(3)
    (raw / "train-images-idx3-ubyte").write_bytes(data)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_labels(3))
    arr = load_mnist(tmp_path)
    assert arr.shape == (3, 28, 28, 1) and arr.dtype == np.uint8
    assert np.array_equal(arr.reshape(-1), pixels)
    with pytest.raises(GankitError, match=r"t10k-images-idx3-ubyte .*--download"):
        load_mnist(tmp_path, train=False)


def test_mnist_raw_folder_gz_and_fashion(tmp_path):
    data, pixels = idx_images(2)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
    arr = load_mnist(tmp_path, train=False)
    assert arr.shape == (2, 28, 28, 1) and np.array_equal(arr.reshape(-1), pixels)
    raw = tmp_path / "fm" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(idx_images(5)[0])
    assert load_mnist(tmp_path / "fm", fashion=True).shape == (5, 28, 28, 1)
    with pytest.raises(GankitError, match="Fashion-MNIST: train-images-idx3-ubyte"):
        load_mnist(tmp_path / "nowhere", fashion=True)


def test_mnist_bad_files(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_labels(3))
    with pytest.raises(GankitError, match="magic number 2051"):
        load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_images(3)[0][:100])
    with pytest.raises(GankitError, match="truncated"):
        load_mnist(tmp_path)


def cifar_batch(n, start):
    records = []
    for k in range(n):
        v = start + k
        planes = [np.full(1024, v, np.uint8), np.full(1024, v + 50, np.uint8),
                  np.full(1024, v + 100, np.uint8)]
        records.append(bytes([k % 10]) + b"".join(p.tobytes() for p in planes))
    return b"".join(records)


@pytest.mark.parametrize("nested", [True, False])
def test_cifar_binary(tmp_path, nested):
    folder = tmp_path / "cifar-10-batches-bin" if nested else tmp_path
    folder.mkdir(exist_ok=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_batch(2, 10 * i))
    (folder / "test_batch.bin").write_bytes(cifar_batch(3, 0))
    train = load_cifar10(tmp_path)
    assert train.shape == (10, 32, 32, 3) and train.dtype == np.uint8
    assert train[0, 5, 7].tolist() == [10, 60, 110] and train[9, 0, 0].tolist() == [51, 101, 151]
    assert load_cifar10(tmp_path, train=False).shape == (3, 32, 32, 3)


def test_cifar_errors(tmp_path):
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    (py / "data_batch_1").write_bytes(b"pickle")
    with pytest.raises(GankitError, match="Python .pickled. version.*binary version"):
        load_cifar10(tmp_path)
    with pytest.raises(GankitError, match=r"test_batch.bin not found .*--download"):
        load_cifar10(tmp_path / "elsewhere", train=False)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(GankitError, match="not a CIFAR-10 binary batch"):
        load_cifar10(tmp_path / "b", train=False)
    (tmp_path / "b" / "data_batch_1.bin").write_bytes(cifar_batch(1, 0))
    with pytest.raises(GankitError, match=r"data_batch_2.bin, .*data_batch_5.bin not found in"):
        load_cifar10(tmp_path / "b")


def test_decoded_images_are_held_once():
    """to_data wraps the decoded NHWC array as an NCHW view (channels-last strides): no
    second copy of a folder in memory; resizing still gives the requested size."""
    import torch
    from gankit_datasets import to_data

    arr = np.random.default_rng(0).integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    d = to_data(arr, "x")
    assert tuple(d.samples.shape) == (5, 3, 12, 12) and d.samples.dtype == torch.uint8
    assert d.samples.data_ptr() == arr.ctypes.data  # the same memory
    assert np.array_equal(d.samples.permute(0, 2, 3, 1).numpy(), arr)
    small = to_data(arr, "x", size=6)
    assert tuple(small.samples.shape) == (5, 3, 6, 6) and small.spec.size == 6
