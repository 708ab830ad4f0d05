"""Real-data features cached per data fingerprint, as safetensors files.

The key is the feature space (with a checksum of its weights) and a SHA-256 of the
uint8 images (shape, then bytes), so a changed data set or feature space never reuses
stale features. Files live in ``$GANKIT_CACHE_DIR`` or ``~/.cache/gankit`` (under
``$XDG_CACHE_HOME`` when set), in ``metrics/``; they are written atomically and never
unpickled. A cache that cannot be read is rebuilt, one that cannot be written is
skipped with one warning: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..files import atomic_write

FORMAT = "gankit-feature-cache"
VERSION = "1"


def cache_dir() -> Path:
    env = os.environ.get("GANKIT_CACHE_DIR")
    if env:
        return Path(env) / "metrics"
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "gankit" / "metrics"


def fingerprint(images) -> str:
    """SHA-256 of a uint8 image tensor's shape and bytes."""
    t = images.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def cache_path(space: str, images) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", space)
    return cache_dir() / f"{safe}-{fingerprint(images)[:32]}.safetensors"


def _read(path: Path, space: str, n: int):
    from safetensors.torch import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as fh:
        meta = fh.metadata() or {}
        if meta.get("format") != FORMAT or meta.get("space") != space:
            return None
        feats = fh.get_tensor("features")
    if feats.ndim != 2 or feats.shape[0] != n:
        return None
    return feats


def features(images, space: str, compute, *, enabled: bool = True, warn=None):
    """``compute(images)`` or its cached result for these exact images and space."""
    if not enabled:
        return compute(images)
    path = cache_path(space, images)
    if path.exists():
        try:
            hit = _read(path, space, int(images.shape[0]))
            if hit is not None:
                return hit
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            pass
    feats = compute(images)
    try:
        from safetensors.torch import save_file

        meta = {"format": FORMAT, "version": VERSION, "space": space}
        tensor = feats.detach().cpu().contiguous()
        atomic_write(path, lambda tmp: save_file({"features": tensor}, tmp, metadata=meta))
    except OSError as exc:
        if warn:
            warn(f"could not write the feature cache {path} ({exc.strerror or exc}); continuing")
    return feats
