"""Image decoding and local data-set readers for gankit.

* decoding one file is :func:`gankit.imageio.decode_image` (shared with ``gankit translate``).
* :func:`load_image_folder` decodes a folder tree in parallel and keeps the result
  in a safetensors cache that is rebuilt whenever a file changes.
* :func:`load_mnist` / :func:`load_cifar10` read the standard distribution files
  with numpy. Nothing here unpickles anything (no ``torch.load``, no pickled CIFAR).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from gankit import GankitError, atomic_write
from gankit.imageio import (  # noqa: F401 - decode_image/list_images are used by name here
    IMAGE_EXTENSIONS,
    decode_image,
    error_reason,
    list_images,
)

CACHE_DIR = ".gankit-cache"
CACHE_VERSION = 1


def _print_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# ----------------------------------------------------------------------- image folders

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
        warn(f"ignoring unreadable cache {path} ({error_reason(exc)}); rebuilding it")
        return None
    return images, names, skipped


def _write_cache(path: Path, images: np.ndarray, metadata: dict[str, str]) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    from safetensors.numpy import save_file

    atomic_write(path, lambda tmp: save_file({"images": images}, tmp, metadata=metadata))


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
                problems.append(f"{path.parent}: {error_reason(exc)}")
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
        raise GankitError(f"{path}: cannot read ({error_reason(exc)})") from None
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
                problems.append(f"{mirror}: {error_reason(exc)}")
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


def load_mnist_labels(root, *, fashion: bool = False, train: bool = True, count: int = 0):
    """The labels (uint8, N) of MNIST or Fashion-MNIST from their IDX1 file beside the
    images, or None when the file is absent (the images alone train unconditionally)."""
    root = Path(root)
    sub = "FashionMNIST" if fashion else "MNIST"
    name = f"{'train' if train else 't10k'}-labels-idx1-ubyte"
    candidates = [name, name + ".gz", name.replace("-idx1", ".idx1")]
    path = next((f / c for f in (root / sub / "raw", root / "raw", root) for c in candidates
                 if (f / c).is_file()), None)
    if path is None:
        return None
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise GankitError(f"{path}: cannot read ({error_reason(exc)})") from None
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != 2049:
        raise GankitError(f"{path}: not an IDX label file (expected magic number 2049)")
    n = struct.unpack(">I", data[4:8])[0]
    if len(data) < 8 + n or (count and n != count):
        raise GankitError(f"{path}: {min(n, len(data) - 8)} labels for {count} images; use "
                          "the label file that belongs to the images")
    labels = np.frombuffer(data, np.uint8, count=n, offset=8).copy()
    if labels.size and int(labels.max()) > 9:
        raise GankitError(f"{path}: a label of {int(labels.max())}; MNIST labels are 0 to 9")
    return labels


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte + CHW pixels


def _read_cifar_batch(path: Path, with_labels: bool = False):
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise GankitError(f"{path}: not a CIFAR-10 binary batch ({raw.size} bytes is not "
                          f"a multiple of {_CIFAR_RECORD})")
    records = raw.reshape(-1, _CIFAR_RECORD)
    chw = records[:, 1:].reshape(-1, 3, 32, 32)
    images = np.ascontiguousarray(chw.transpose(0, 2, 3, 1))
    if not with_labels:
        return images
    labels = records[:, 0].copy()
    if labels.size and int(labels.max()) > 9:
        raise GankitError(f"{path}: a label byte of {int(labels.max())}; CIFAR-10 labels are "
                          "0 to 9 (not a CIFAR-10 binary batch?)")
    return images, labels


def load_cifar10(root, *, train: bool = True, download: bool = False,
                 with_labels: bool = False):
    """CIFAR-10 images as uint8 (N, 32, 32, 3) from the *binary* distribution (and their
    labels, uint8 (N,), with ``with_labels``).

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
            raise GankitError(f"downloading {CIFAR10_URL} failed ({error_reason(exc)})") from None
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
    if not with_labels:
        return np.concatenate([_read_cifar_batch(folder / n) for n in names])
    parts = [_read_cifar_batch(folder / n, True) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
