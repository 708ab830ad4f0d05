
"""A run folder and everything that knows its layout.

::

    RUN/
      config.json          what the run was started with (options, model config, data)
      status.json          running / completed / interrupted / failed / diverged, step
      run.lock             present while a process trains the run (its pid and host)
      metrics.jsonl        one line of averaged losses per log interval
      samples/             step-NNNNNN.png preview grids
      checkpoints/         step-NNNNNNN.safetensors
      directions/          NAME.safetensors latent attribute directions
      metrics/             eval-step-NNNNNNN.json from `gankit evaluate`

Commands and the trainer go through :class:`Run`; nothing else builds these paths. Which
run a path on the command line means is decided here too, by :meth:`Run.locate` (the one
rule every command uses):

1. nothing given: the newest run under ``--out``;
2. a bare name (no ``/``) of a run under ``--out``: that run; when ``./NAME`` is also a
   run or a checkpoint (another folder), the name is ambiguous and refused;
3. otherwise a path: a run folder; a ``RUN/checkpoints/step-N.safetensors`` file (that run,
   at that checkpoint); another ``.safetensors`` file (a loose checkpoint, for commands
   that only read weights); a folder whose subfolders are runs (its newest run, for
   commands that only read);
4. anything else is refused.

A folder is a run only when it holds what gankit alone writes: a ``config.json`` carrying
``"gankit_run": 1``, or, for runs written before the marker (0.1, 0.2), a ``config.json``
with gankit's own keys (``gankit_version``, ``model``, ``options``) together with a
checkpoint whose header is gankit's or a ``status.json`` gankit wrote. Files gankit did
not write are never deleted (:meth:`Run.owned_files`).

:class:`Run` is made of one part per concept, each in its own module: ``layout.py`` (the
names and paths of the files, listing checkpoints and grids, what gankit wrote),
``records.py`` (config.json, status.json, metrics.jsonl, evaluations), ``lock.py`` (the run
lock) and ``locate.py`` (what a folder is and which run a target means); this module adds
creating a run and reading and pruning its checkpoints.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..checkpoints import Checkpoint
from ..errors import CheckpointError, GankitError
from .layout import (CKPT_RE, DEFAULT_ROOT, EVAL_RE, OWNED, RUN_FILES, TEMP_RE, RunLayout,
                     check_name, owned_name, writable_dir)
from .locate import LEGACY_CONFIG_KEYS, Located, RunLocating, not_a_run
from .lock import MAX_PID, RunLock, pid_alive
from .records import RUN_FORMAT, RUN_MARK, STATUSES, RunRecords, trim_jsonl

__all__ = ["Run", "Located", "DEFAULT_ROOT", "CKPT_RE", "EVAL_RE", "STATUSES", "RUN_FILES",
           "RUN_MARK", "RUN_FORMAT", "LEGACY_CONFIG_KEYS", "MAX_PID", "OWNED", "TEMP_RE",
           "owned_name", "check_name", "pid_alive", "not_a_run", "trim_jsonl", "writable_dir"]


class Run(RunLayout, RunLocating, RunLock, RunRecords):
    """One run folder. Create it with :meth:`new`; find it with :meth:`find` (or
    :meth:`locate`), :meth:`for_resume`, :meth:`find_checkpoint` or :meth:`newest`."""

    def __init__(self, path):
        self.path = Path(path)
        self._locked = False

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- creating a run; its checkpoints ----------------------------------------------------
    @classmethod
    def new(cls, out, name: str | None, model: str) -> "Run":
        """A fresh folder under ``out``: ``name``, or MODEL-TIMESTAMP (suffixed when taken).
        An existing run is never reused: that is what ``--resume`` is for."""
        out = Path(out)
        writable_dir(out, "--out")
        if name is not None:
            check_name(name)
            run = cls(out / name)
            if run.path.exists() and not run.path.is_dir():
                raise GankitError(f"--name {name}: {run.path} is a file; pick another --name")
            if run.lock_holder() is not None:
                raise GankitError(f"--name {name}: {run.path} is being trained by another "
                                  "process; wait for it or pick another --name")
            if run.checkpoints():
                raise GankitError(
                    f"--name {name}: {run.path} already holds a run; continue it with "
                    f"`gankit train --resume {run.path}` or pick another --name"
                )
            if run.path.is_dir() and not cls.is_run(run.path) and any(
                    p for p in run.path.iterdir()
                    if not p.name.startswith(".") and p.name != "run.lock"
                    and not (p.is_dir() and p.name in RUN_FILES and not any(p.iterdir()))):
                raise GankitError(f"--name {name}: {run.path} exists and is not a gankit run; "
                                  "pick another --name")
            if run.path.is_dir() and any(p for p in run.path.iterdir()
                                         if p.name not in RUN_FILES and not p.name.startswith(".")):
                raise GankitError(f"--name {name}: {run.path} exists and is not a gankit run; "
                                  "pick another --name")
            # a new folder, or a run that never reached its first checkpoint: start it over
            run.path.mkdir(exist_ok=True)
            return run
        base = f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
        for i in range(10_000):
            path = out / (base if i == 0 else f"{base}-{i}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise GankitError(f"--out {out}: could not pick a free run folder name")

    def latest_loadable(self, max_step: int | None = None):
        """The newest checkpoint that parses (at most ``max_step``), skipping damaged ones."""
        for p in reversed(self.checkpoints()):
            try:
                c = Checkpoint(p)
            except CheckpointError:
                continue
            if max_step is None or c.step <= max_step:
                return c
        return None

    def prune(self, keep_last: int, keep=()) -> list[Path]:
        """Delete all but the newest ``keep_last`` checkpoints (0 keeps all); never one in
        ``keep`` (the one just written, the one a message names)."""
        if keep_last <= 0:
            return []
        keep = {Path(k).resolve() for k in keep}
        old = [p for p in self.checkpoints()[:-keep_last] if p.resolve() not in keep]
        for p in old:
            try:
                p.unlink()
            except OSError:
                pass
        return old
