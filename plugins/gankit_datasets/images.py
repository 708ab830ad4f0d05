"""Image decoding and local data-set readers for gankit.

* :func:`decode_image` turns one image file into a uint8 HWC array. It composites
  transparency on black, scales 16-bit images to 8 bit, honours EXIF orientation,
  takes the first frame of animations and decodes huge images with bounded memory
  (JPEG draft mode, then ``reduce`` before the LANCZOS resize and centre crop).
* :func:`load_image_folder` decodes a folder tree in parallel and keeps the result
  in a safetensors cache that is rebuilt whenever a file changes.
* :func:`load_mnist` / :func:`load_cifar10` read the standard distribution files
  with numpy. Nothing here unpickles anything (no ``torch.load``, no pickled CIFAR).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import struct
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gankit import GankitError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")

MAX_PIXELS = 200_000_000  # refuse larger images (decompression bombs); 10000x10000 is fine
CACHE_DIR = ".gankit-cache"
CACHE_VERSION = 1
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError,
                  KeyError, ZeroDivisionError, Image.DecompressionBombError)


def _print_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- decoding

_limit_lock = threading.Lock()
_limit_users = 0
_saved_limit: int | None = None


@contextlib.contextmanager
def _raised_pixel_limit():
    """Raise Pillow's decompression-bomb limit to MAX_PIXELS while our decodes run.

    Pillow's limit is a module global, so this is reference-counted across threads:
    the first decode raises it, the last one restores the caller's value. Our own
    check in decode_image keeps the bound; a user-disabled limit (None) stays None.
    """
    global _limit_users, _saved_limit
    with _limit_lock:
        if _limit_users == 0:
            _saved_limit = Image.MAX_IMAGE_PIXELS
            if _saved_limit is not None:
                Image.MAX_IMAGE_PIXELS = max(_saved_limit, MAX_PIXELS)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                Image.MAX_IMAGE_PIXELS = _saved_limit


def _exif_transpose(img: Image.Image) -> Image.Image:
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # malformed EXIF must not make a good image unreadable
        return img
    return ImageOps.exif_transpose(img) if orientation in range(2, 9) else img


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Bring any Pillow mode to one of L, LA, RGB, RGBA, I (16-bit range) or F."""
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return img
    if mode.startswith("I;16"):
        return img.convert("I")  # Pillow cannot reduce/resize I;16 directly
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        palette = np.asarray(img.getpalette("RGB") or [0, 0, 0]).reshape(-1, 3)
        gray = bool((palette == palette[:, :1]).all())
        alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if alpha else "RGB")
        return img.convert("LA" if alpha else "L") if gray else img
    if mode == "RGBa":
        return img.convert("RGBA")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def _crop_resize(img: Image.Image, size: int) -> Image.Image:
    """Centre square crop, then LANCZOS to size x size (reduce() first when shrinking)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    box = (left, top, left + side, top + side)
    if side == size:
        return img if w == h else img.crop(box)
    return img.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _to_uint8(img: Image.Image) -> np.ndarray:
    """HWC uint8 array; alpha is composited on black (colour * alpha / 255)."""
    arr = np.asarray(img)
    if img.mode == "I":  # 16-bit sources: 0..65535 -> 0..255, rounded
        arr = ((np.clip(arr, 0, 65535) + 128) // 257).astype(np.uint8)
    elif img.mode == "F":
        arr = np.clip(np.rint(np.nan_to_num(arr)), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if img.mode in ("LA", "RGBA"):
        alpha = arr[..., -1:].astype(np.uint16)
        arr = ((arr[..., :-1] * alpha + 127) // 255).astype(np.uint8)
    return arr


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def decode_image(path, size: int | None = None, mode: str = "RGB") -> np.ndarray:
    """Decode one image file to a uint8 (H, W, C) array.

    ``mode`` is "RGB" (C=3), "L" (C=1) or "auto" (C=1 for grayscale sources, else 3).
    With ``size`` the shorter side is resized to ``size`` and the centre cropped to a
    square; with None the native size is kept. Raises GankitError for unreadable files.
    """
    if mode not in ("RGB", "L", "auto"):
        raise ValueError(f"mode must be 'RGB', 'L' or 'auto', not {mode!r}")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive integer or None, not {size!r}")
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise GankitError(f"{path}: cannot read image (empty file)")
        with _raised_pixel_limit(), Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise GankitError(f"{path}: cannot read image ({w}x{h} pixels is over the limit "
                                  f"of {MAX_PIXELS:,}; possible decompression bomb)")
            if size is not None:  # JPEG: decode at 1/2, 1/4 or 1/8 scale, never below size
                img.draft("L" if mode == "L" else None, (size, size))
            img.load()  # raises on truncated data (LOAD_TRUNCATED_IMAGES stays off)
            img = _normalise_mode(_exif_transpose(img))
            if size is not None:
                img = _crop_resize(img, size)
            arr = _to_uint8(img)
    except _DECODE_ERRORS as exc:
        raise GankitError(f"{path}: cannot read image ({_reason(exc)})") from None
    if mode == "RGB" and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif mode == "L" and arr.shape[2] == 3:
        arr = np.asarray(Image.fromarray(arr).convert("L"))[..., None]
    return np.require(arr, np.uint8, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])


# ----------------------------------------------------------------------- image folders

def list_images(root) -> list[Path]:
    """Image files under ``root`` (recursive, sorted), skipping hidden files and dirs."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath, f) for f in filenames
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
    return sorted(found)


def _fingerprint(root: Path, files: list[Path], size: int, mode: str) -> str:
    entries = []
    for f in files:
        try:
            st = f.stat()
            entries.append((f.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
        except OSError:  # e.g. a dangling symlink: still part of the fingerprint
            entries.append((f.relative_to(root).as_posix(), -1, -1))
    blob = json.dumps({"version": CACHE_VERSION, "size": size, "mode": mode, "files": entries})
    return hashlib.sha256(blob.encode()).hexdigest()


def _cache_paths(root: Path, size: int, mode: str) -> list[Path]:
    name = f"images-{size}px-{mode}.safetensors"
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return [root / CACHE_DIR / name, home / "gankit" / key / name]


def _read_cache(path: Path, fingerprint: str, size: int, warn):
    """(images, names, skipped) from a valid cache file, or None."""
    if not path.is_file():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            if meta.get("fingerprint") != fingerprint:
                return None  # stale: silently rebuilt
            images = f.get_tensor("images")
        names = json.loads(meta["names"])
        skipped = json.loads(meta.get("skipped", "[]"))
        if (images.dtype != np.uint8 or images.ndim != 4 or images.shape[0] != len(names)
                or images.shape[1:3] != (size, size) or images.shape[3] not in (1, 3)):
            raise ValueError("unexpected contents")
    except Exception as exc:  # any damage: ignore the file, it gets rewritten
        warn(f"ignoring unreadable cache {path} ({_reason(exc)}); rebuilding it")
        return None
    return images, names, skipped


def _write_cache(path: Path, images: np.ndarray, metadata: dict[str, str]) -> None:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        save_file({"images": images}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _decode_all(files: list[Path], size: int, mode: str, progress):
    """Decode in threads into one preallocated array; returns (images, ok mask, errors)."""
    n = len(files)
    out = np.zeros((n, size, size, 1 if mode == "L" else 3), np.uint8)
    ok = np.zeros(n, bool)
    gray = np.ones(n, bool)
    errors: dict[int, str] = {}

    def work(i: int) -> None:
        try:
            arr = decode_image(files[i], size, mode)
        except GankitError as exc:
            errors[i] = str(exc)
            return
        out[i] = arr  # a gray image broadcasts over the three channels
        gray[i] = arr.shape[2] == 1
        ok[i] = True

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(work, i) for i in range(n)]
        try:
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                if progress is not None:
                    progress(done, n)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if mode == "auto" and ok.any() and gray[ok].all():
        out = np.ascontiguousarray(out[..., :1])
    return (out if ok.all() else out[ok]), ok, errors


def load_image_folder(root, size: int, *, grayscale: str = "auto", cache: bool = True,
                      warn=None, progress=None) -> tuple[np.ndarray, list[str]]:
    """All images under ``root`` as uint8 (N, size, size, C) plus their relative names.

    ``grayscale``: "auto" (C=1 only if every image is grayscale), "always" or "never".
    Unreadable files are skipped with one warning. ``progress(done, total)`` is called
    while decoding. The result is cached in ``root/.gankit-cache`` (or the user cache).
    """
    warn = warn or _print_warning
    root = Path(root)
    if grayscale not in ("auto", "always", "never"):
        raise GankitError(f"grayscale must be 'auto', 'always' or 'never', not {grayscale!r}")
    if not isinstance(size, int) or size < 1:
        raise GankitError(f"image size must be a positive integer, not {size!r}")
    if not root.exists():
        raise GankitError(f"--data {root}: no such file or directory")
    if not root.is_dir():
        raise GankitError(f"--data {root}: not a directory (expected a folder of images)")
    files = list_images(root)
    if not files:
        raise GankitError(f"--data {root}: no image files found "
                          f"(accepted extensions: {', '.join(IMAGE_EXTENSIONS)})")
    mode = {"auto": "auto", "always": "L", "never": "RGB"}[grayscale]
    names = [f.relative_to(root).as_posix() for f in files]

    def report(skipped: list[str]) -> None:
        if skipped:
            more = ", ..." if len(skipped) > 3 else ""
            warn(f"skipped {len(skipped)} unreadable image file(s) in {root}: "
                 f"{', '.join(skipped[:3])}{more}")

    fingerprint = _fingerprint(root, files, size, mode) if cache else ""
    if cache:
        for path in _cache_paths(root, size, mode):
            hit = _read_cache(path, fingerprint, size, warn)
            if hit is not None:
                report(hit[2])
                return hit[0], hit[1]

    images, ok, errors = _decode_all(files, size, mode, progress)
    skipped = [names[i] for i in sorted(errors)]
    if not ok.any():
        first = errors[min(errors)]
        raise GankitError(f"--data {root}: none of the {len(files)} image files could be "
                          f"read (first error: {first})")
    report(skipped)
    kept = [name for name, good in zip(names, ok) if good]

    if cache:
        metadata = {"format": "gankit-image-cache", "version": str(CACHE_VERSION),
                    "fingerprint": fingerprint, "size": str(size), "mode": mode,
                    "names": json.dumps(kept), "skipped": json.dumps(skipped)}
        problems = []
        for path in _cache_paths(root, size, mode):
            try:
                _write_cache(path, images, metadata)
                break
            except Exception as exc:  # the cache is an optimisation: never fatal
                problems.append(f"{path.parent}: {_reason(exc)}")
        else:
            warn(f"could not write the image cache ({'; '.join(problems)}); continuing without it")
    return images, kept


# ----------------------------------------------------------------- MNIST and CIFAR-10

def _read_idx_images(path: Path) -> np.ndarray:
    """An IDX3 uint8 image file (magic 2051, big-endian header), optionally gzipped."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise GankitError(f"{path}: cannot read ({_reason(exc)})") from None
    if len(data) < 16 or struct.unpack(">I", data[:4])[0] != 2051:
        raise GankitError(f"{path}: not an IDX image file (expected magic number 2051)")
    n, rows, cols = struct.unpack(">III", data[4:16])
    if len(data) < 16 + n * rows * cols:
        raise GankitError(f"{path}: truncated ({len(data)} bytes for {n} images of {rows}x{cols})")
    images = np.frombuffer(data, np.uint8, count=n * rows * cols, offset=16)
    return images.reshape(n, rows, cols, 1).copy()


def _download_mnist(root: Path, fashion: bool) -> None:
    from torchvision.datasets import MNIST, FashionMNIST
    from torchvision.datasets.utils import download_and_extract_archive

    cls = FashionMNIST if fashion else MNIST
    raw = root / cls.__name__ / "raw"
    for filename, md5 in cls.resources:
        if (raw / filename.removesuffix(".gz")).is_file():
            continue
        problems = []
        for mirror in cls.mirrors:
            try:
                download_and_extract_archive(mirror + filename, download_root=raw,
                                             filename=filename, md5=md5)
                break
            except (OSError, RuntimeError) as exc:
                problems.append(f"{mirror}: {_reason(exc)}")
        else:
            raise GankitError(f"downloading {filename} failed ({'; '.join(problems)})")


def load_mnist(root, *, fashion: bool = False, train: bool = True,
               download: bool = False) -> np.ndarray:
    """MNIST or Fashion-MNIST images as uint8 (N, 28, 28, 1).

    ``root`` is the folder holding ``MNIST/raw`` (``FashionMNIST/raw``), as torchvision
    lays it out, or a folder holding the IDX files themselves (plain or .gz).
    Downloads use torchvision's mirrors and checksums; reading is plain numpy (no
    torchvision dataset class: it needs all four files and may torch.load old caches).
    """
    root = Path(root)
    label, sub = ("Fashion-MNIST", "FashionMNIST") if fashion else ("MNIST", "MNIST")
    name = f"{'train' if train else 't10k'}-images-idx3-ubyte"
    folders = [root / sub / "raw", root / "raw", root]
    candidates = [name, name + ".gz", name.replace("-idx3", ".idx3")]

    def find() -> Path | None:
        return next((f / c for f in folders for c in candidates if (f / c).is_file()), None)

    found = find()
    if found is None and download:
        _download_mnist(root, fashion)
        found = find()
    if found is None:
        raise GankitError(f"{label}: {name} (or {name}.gz) not found in {root} or "
                          f"{root / sub / 'raw'}; pass --download to fetch it")
    return _read_idx_images(found)


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte + CHW pixels


def _read_cifar_batch(path: Path) -> np.ndarray:
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise GankitError(f"{path}: not a CIFAR-10 binary batch ({raw.size} bytes is not "
                          f"a multiple of {_CIFAR_RECORD})")
    chw = raw.reshape(-1, _CIFAR_RECORD)[:, 1:].reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(chw.transpose(0, 2, 3, 1))


def load_cifar10(root, *, train: bool = True, download: bool = False) -> np.ndarray:
    """CIFAR-10 images as uint8 (N, 32, 32, 3) from the *binary* distribution.

    ``root`` holds ``cifar-10-batches-bin`` or is that folder. The Python version is
    refused: it is pickled, and gankit never unpickles data.
    """
    root = Path(root)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    folders = [root / "cifar-10-batches-bin", root]

    def find() -> Path | None:
        return next((f for f in folders if all((f / n).is_file() for n in names)), None)

    folder = find()
    if folder is None and download:
        from torchvision.datasets.utils import download_and_extract_archive

        try:
            download_and_extract_archive(CIFAR10_URL, download_root=root, md5=CIFAR10_MD5)
        except (OSError, RuntimeError) as exc:
            raise GankitError(f"downloading {CIFAR10_URL} failed ({_reason(exc)})") from None
        folder = find()
    if folder is None:
        python = [f for f in (root / "cifar-10-batches-py", root) if (f / "data_batch_1").is_file()
                  or (f / "test_batch").is_file()]
        if python:
            raise GankitError(f"CIFAR-10: {python[0]} holds the Python (pickled) version, which "
                              f"gankit does not read; get the binary version with --download or "
                              f"extract {CIFAR10_URL} into {root}")
        partial = next((f for f in folders if any((f / n).is_file() for n in names)), None)
        where = partial or f"{root} or {folders[0]}"
        missing = [n for n in names if partial is None or not (partial / n).is_file()]
        raise GankitError(f"CIFAR-10: {', '.join(missing)} not found in {where}; "
                          f"pass --download to fetch the binary version")
    return np.concatenate([_read_cifar_batch(folder / n) for n in names])
