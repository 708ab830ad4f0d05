"""Writing files so that a crash never leaves a half-written one in place, and reading
the small files gankit wrote without trusting them.

Every file gankit writes goes through :func:`atomic_write` (a temporary name in the same
folder, flushed, fsynced, renamed into place) or, for append-only logs, through
:mod:`gankit.logfiles` (one ``write`` per line, so a crash cannot interleave two lines).
Reading goes through :func:`read_regular` / :func:`read_small_json`: regular files only,
opened non-blocking, with a byte cap (a FIFO or ``/dev/zero`` in a run folder can neither
hang nor exhaust a reader), and JSON values through :func:`as_float`,
:func:`finite_number` and :func:`small_int`.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once at import: changing the umask later from a thread would race with other threads
UMASK = _read_umask()


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, fsync, and rename into ``path``; remove the temp on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the usual file mode
    try:
        write(tmp)
        # writers that replace the file (safetensors does) bring back mkstemp's 0600
        os.chmod(tmp, 0o666 & ~UMASK)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename in (None, tmp, str(tmp)):
            # name the file the user knows (a full disk while writing it), not the temp name
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(path: Path, doc) -> None:
    write_text(path, json.dumps(doc, indent=2, default=str) + "\n")


def is_temp(p: Path) -> bool:
    """A temporary file that :func:`atomic_write` leaves behind when killed."""
    return p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)


# -- reading what gankit wrote, without trusting it ----------------------------------------

MAX_JSON_FILE = 1 << 20          # config.json, status.json, run.lock, eval files
MAX_METRICS_FILE = 256 << 20     # metrics.jsonl


def read_regular(path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None when it is missing,
    not a regular file (a FIFO, a device, a folder), larger or unreadable. Never blocks:
    the file is opened non-blocking and checked with ``fstat`` before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, n = [], 0
        while True:
            b = os.read(fd, min(1 << 20, limit + 1 - n))
            if not b:
                break
            chunks.append(b)
            n += len(b)
            if n > limit:
                return None
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def is_regular(path) -> bool:
    """A regular file (symlinks followed), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _no_constant(name):
    raise ValueError(f"{name} is not JSON gankit writes")


def parse_json(raw):
    """JSON text as gankit writes it: NaN/Infinity refused, deep nesting refused (None)."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError, UnicodeDecodeError, TypeError):
        return None


def as_float(v):
    """A float from a JSON number (inf for one too large), None for anything else."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


def finite_number(v):
    """A finite float from a JSON value, None for anything else (bools, inf, NaN, huge)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def small_int(v, lo: int = 0, hi: int = 10**12):
    """An int from a JSON value within [lo, hi], else None (floats, bools, 1e400)."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        return None
    return v


def read_small_json(path: Path, limit: int = MAX_JSON_FILE):
    """A small JSON file's content, or None when it is missing, not a regular file (a
    FIFO, a device), too large, malformed, nested too deeply or holding NaN/Infinity."""
    raw = read_regular(path, limit)
    return None if raw is None else parse_json(raw)
