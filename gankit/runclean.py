"""`gankit runs clean`: which runs and checkpoints may go, and removing exactly the files
gankit wrote. A run is recognised only by what gankit writes (:meth:`Run.recognise`); its
folder loses only what :meth:`Run.owned_files` names, config.json last, so an interrupted
clean leaves a folder that is still a run and can be cleaned again; every other entry is
kept and reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import console
from .errors import GankitError, UsageError
from .files import write_json
from .run import OWNED, RUN_FORMAT, RUN_MARK, Run
from .runinfo import RunInfo, find_runs, load_run, read_lock


@dataclass
class Removal:
    run: str
    path: Path
    size: int
    what: str  # "run" or "checkpoint"
    files: list = field(default_factory=list)  # exactly the files that go
    kept: list = field(default_factory=list)   # entries gankit did not write: left in place


def _size(files) -> int:
    total = 0
    for f in files:
        try:
            total += os.lstat(f).st_size
        except OSError:
            pass
    return total


def runs_named(root, targets) -> list[RunInfo]:
    """The runs ``targets`` name (a run folder, or a run name under ``root``: the rule of
    :meth:`Run.locate`); a target that is not one run, or a run training now, is refused."""
    infos = []
    for t in targets:
        loc = Run.locate(t, root)
        if loc.kind != "run":
            raise UsageError(f"{t}: not a run folder or a run name under {root}/; "
                             "runs clean removes whole runs (give the run, not a file "
                             "or a folder of runs)")
        infos.append(load_run(loc.run.path, size=False))
    for r in infos:
        if r.running:
            pid = (r.lock or {}).get("pid")
            raise GankitError(f"{r.path}: training now (run.lock held by pid {pid} on "
                              f"{(r.lock or {}).get('host')}); stop it before cleaning it")
    return infos


def plan_clean(root, *, checkpoints_keep: int | None = None, statuses=("interrupted", "failed"),
               runs: list[RunInfo] | None = None) -> tuple[list[Removal], list[RunInfo]]:
    """What ``gankit runs clean`` would remove, and the running runs it skips.

    Without ``checkpoints_keep``: the files gankit wrote in runs whose status is in
    ``statuses`` (:meth:`gankit.run.Run.owned_files`; anything else stays, and so does
    the folder then). With it: every run's checkpoints beyond its newest
    ``checkpoints_keep``. A running run (live lock) is never touched. The plan lists
    every file that goes, so ``--dry-run`` shows exactly what the real run removes.
    """
    runs = runs if runs is not None else [load_run(d, size=False) for d in find_runs(root)]
    plan, skipped = [], []
    for r in runs:
        if r.running:
            skipped.append(r)
            continue
        if not Run.is_run(r.path):
            continue
        if checkpoints_keep is None:
            if r.status in statuses:
                files, other = Run(r.path).owned_files()
                plan.append(Removal(r.name, r.path, _size(files), "run", files, other))
        else:
            old = r.checkpoints[:-checkpoints_keep] if checkpoints_keep > 0 else r.checkpoints
            for _, c in old:
                try:
                    size = c.stat().st_size
                except OSError:
                    continue
                plan.append(Removal(r.name, c, size, "checkpoint", [c]))
    return plan, skipped


def remove(item: Removal) -> None:
    """Remove one planned item, under the run's lock (so no training starts meanwhile).

    A whole run: the files of the plan only, config.json last (an interrupted removal
    leaves a folder that is still a run, so ``clean`` can finish it), then the emptied
    gankit subfolders and the folder itself when nothing else is left in it."""
    run = Run(item.path if item.what == "run" else item.path.parent.parent)
    if item.what == "run" and run.recognise(run.path) == "legacy":
        # a 0.2 run: mark it first, so that it stays recognisable however far this gets

        cfg = run.read_config()
        if cfg and RUN_MARK not in cfg:
            write_json(run.config_path, {RUN_MARK: RUN_FORMAT, **cfg})
    try:
        run.lock()
    except GankitError:
        lock = read_lock(run.path)
        raise GankitError(f"{run.path}: started training meanwhile (run.lock held by "
                          f"pid {(lock or {}).get('pid')}); not removed") from None
    try:
        for f in item.files:
            if Path(f) == run.lock_path:
                continue  # ours now: released below
            if Path(f) == run.config_path:
                run.unlock()
            Path(f).unlink(missing_ok=True)
    finally:
        run.unlock()
    if item.what == "run":
        for sub in sorted({Path(f).parent for f in item.files} - {run.path}):
            try:
                sub.rmdir()  # only when empty
            except OSError:
                pass
        for name in (n for n in OWNED if n):  # gankit's subfolders, when left empty
            try:
                (run.path / name).rmdir()
            except OSError:
                pass
        try:
            run.path.rmdir()
        except OSError:
            pass


def remove_all(plan: list[Removal]) -> tuple[int, list[str]]:
    """Remove every planned item (:func:`remove`) with a progress bar; returns the bytes
    freed and one line per item that could not be removed."""
    freed, failed = 0, []
    with console.progress(transient=True) as prog:
        task = prog.add_task("cleaning", total=len(plan), rate="", info="")
        for p in plan:
            try:
                remove(p)
                freed += p.size
            except (GankitError, OSError) as exc:
                failed.append(f"{p.path}: {exc}")
            prog.advance(task)
    return freed, failed
