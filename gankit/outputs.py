"""Where a command may write what the user asked for: never into a run folder, never over
an existing file unless ``--force``, never into (or around) the files being read.

No torch here: these checks run before any work.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .run import Run


def _absolute(path) -> Path:
    p = Path(path).absolute()
    try:
        return p.parent.resolve() / p.name
    except OSError:
        return p


def run_around(path) -> Run | None:
    """The run folder ``path`` is inside (or is), or None."""
    p = _absolute(path)
    for d in [p, *p.parents]:
        if Run.is_run(d):
            return Run(d)
    return None


def check_output(path, *, force: bool = False, flag: str = "--out", folder: bool = False) -> Path:
    """Refuse an empty path, a target inside a run folder (gankit's own files: an export
    there replaces checkpoints or config.json), and an existing file unless ``force``.
    ``folder``: the output is a folder (an existing one is written into)."""
    if path is None or not str(path).strip():
        raise UsageError(f"{flag} '': an empty path; give a file name or leave the flag out")
    p = Path(path)
    run = run_around(p)
    if run is not None:
        raise UsageError(f"{flag} {p}: inside the run folder {run.path}, whose files gankit "
                         "owns; write it outside the run folder")
    if folder:
        return p
    if p.is_symlink() or p.exists():
        if p.is_dir():
            raise UsageError(f"{flag} {p}: a folder; give a file name")
        if not force:
            raise UsageError(f"{flag} {p}: already exists; pass --force to replace it")
    return p


def check_apart(out, source, *, out_flag: str = "OUT", source_flag: str = "--data") -> None:
    """Refuse an output folder that is, contains or is inside the folder being read."""
    if source is None or not str(source).strip():
        return
    o, s = _absolute(out), _absolute(source)
    if s.is_file():
        s = s.parent
    if o == s or s in o.parents or o in s.parents:
        raise UsageError(f"{out_flag} {out}: is, holds or is inside {source_flag} {source}; "
                         "write to a separate folder so the originals are never replaced")
