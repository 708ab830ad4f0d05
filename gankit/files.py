"""Writing files so that a crash never leaves a half-written one in place.

Every file gankit writes goes through :func:`atomic_write` (a temporary name in the same
folder, flushed, fsynced, renamed into place) or, for append-only logs, through
:mod:`gankit.logfiles` (one ``write`` per line, so a crash cannot interleave two lines).
"""

from __future__ import annotations

import json
import os
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
