"""What a run folder says about itself: status, progress, losses, evaluations, size.

Everything here reads files only (``config.json``, ``status.json``, ``run.lock``,
``metrics.jsonl``, ``metrics/eval-step-*.json``, checkpoint file names); nothing
imports torch, so ``gankit runs`` answers at once even for many runs.

A run's status comes from ``status.json`` and ``run.lock``:

- a *live* lock (its pid alive on this host, or any lock from another host, which this
  machine cannot check) means the run is training now: ``running``;
- otherwise ``status.json``'s status, except that a run it calls ``running`` with no
  live lock was killed: ``interrupted``;
- a run without ``status.json`` (gankit 0.1.0) is ``completed`` when its newest
  checkpoint reached ``options.steps``, else ``interrupted``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GankitError, UsageError
from .files import MAX_JSON_FILE, finite_number, read_small_json, small_int
from .run import CKPT_RE, STATUSES, Run

SORT_KEYS = ("time", "name", "model", "status", "steps")
# what the table shows of an evaluation, in this order, when present
EVAL_KEYS = ("fid", "kid", "swd", "precision", "recall", "memorisation")


# -- small readers ----------------------------------------------------------------------


def _read_json(path: Path):
    """A JSON file's object, or None when missing, unreadable or not an object."""
    val = read_small_json(path, MAX_JSON_FILE)
    return val if isinstance(val, dict) else None


def read_metrics(run_dir) -> list[dict]:
    """The records of ``RUN/metrics.jsonl`` in order (:meth:`gankit.run.Run.metrics`)."""
    return Run(run_dir).metrics()


#: the ``loss_*`` keys of metrics records, and one metric's (steps, values): the public
#: :meth:`gankit.run.Run.loss_keys` and :meth:`gankit.run.Run.series` (plugins use them too)
loss_keys = Run.loss_keys
series = Run.series


def read_evals(run_dir) -> list[dict]:
    """``RUN/metrics/eval-step-*.json`` records (:meth:`gankit.run.Run.evaluations`)."""
    return Run(run_dir).evaluations()


def checkpoint_steps(run_dir) -> list[tuple[int, Path]]:
    """(step, path) of ``RUN/checkpoints/step-*.safetensors``, oldest first (names only)."""
    return [(int(CKPT_RE.match(p.name).group(1)), p) for p in Run(run_dir).checkpoints()]


def disk_size(path) -> int:
    """Bytes of every file under ``path`` (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_duration(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_time(t, short: bool = False) -> str:
    t = finite_number(t)
    if not t:
        return ""
    try:
        return time.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S", time.localtime(t))
    except (OverflowError, OSError, ValueError):
        return ""


# -- the lock ----------------------------------------------------------------------------


def read_lock(run_dir) -> dict | None:
    """The live holder of ``RUN/run.lock`` (``gankit.run.Run.lock_holder``) with
    ``live`` added, or None: no lock, or a stale one."""
    holder = Run(run_dir).lock_holder()
    return {**holder, "live": True} if holder is not None else None


# -- one run -----------------------------------------------------------------------------


@dataclass
class RunInfo:
    path: Path
    name: str
    model: str = ""
    data: str = ""
    loss: str | None = None
    config: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    status: str = "interrupted"
    status_note: str | None = None  # why, when the status was inferred or corrected
    message: str | None = None
    step: int = 0
    total_steps: int | None = None
    started: float | None = None
    updated: float | None = None
    lock: dict | None = None
    checkpoints: list = field(default_factory=list)  # [(step, Path)]
    metrics: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    size: int = 0

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def last_losses(self) -> dict:
        """The newest value of each loss (from the last record that has it)."""
        out = {}
        for k in loss_keys(self.metrics):
            _, vals = series(self.metrics, k)
            if vals:
                out[k] = vals[-1]
        return out

    @property
    def images_per_s(self) -> float | None:
        """Median images/s over the logged intervals (robust to the first, slow one)."""
        _, vals = series(self.metrics, "images_per_s")
        vals = [v for v in vals if math.isfinite(v) and v > 0]
        return statistics.median(vals) if vals else None

    @property
    def last_eval(self) -> dict | None:
        return self.evals[-1] if self.evals else None

    def summary(self) -> dict:
        """The metrics summary: first, last, min and max of each loss and of images/s."""
        out = {}
        for k in loss_keys(self.metrics) + ["images_per_s"]:
            steps, vals = series(self.metrics, k)
            finite = [(s, v) for s, v in zip(steps, vals) if math.isfinite(v)]
            if not finite:
                continue
            lo = min(finite, key=lambda sv: sv[1])
            out[k] = {"first": finite[0][1], "last": finite[-1][1], "min": lo[1],
                      "min_step": lo[0], "max": max(v for _, v in finite),
                      "points": len(vals), "non_finite": len(vals) - len(finite)}
        return out

    def as_dict(self, full: bool = False) -> dict:
        d = {
            "name": self.name, "path": str(self.path), "model": self.model, "data": self.data,
            "loss": self.loss, "status": self.status, "status_note": self.status_note,
            "message": self.message, "step": self.step, "total_steps": self.total_steps,
            "started": self.started, "updated": self.updated,
            "running_pid": (self.lock or {}).get("pid") if self.running else None,
            "images_per_s": self.images_per_s, "last_losses": self.last_losses,
            "checkpoints": len(self.checkpoints),
            "newest_checkpoint": str(self.checkpoints[-1][1]) if self.checkpoints else None,
            "last_eval": _eval_brief(self.last_eval), "size_bytes": self.size,
        }
        if full:
            d["options"] = self.options
            d["model_config"] = self.config.get("model_config")
            d["config"] = self.config
            d["summary"] = self.summary()
            d["evals"] = [_eval_brief(e) for e in self.evals]
        return d


def _eval_brief(e):
    if e is None:
        return None
    return {"step": e["step"], "checkpoint": e.get("checkpoint"), "samples": e.get("samples"),
            "time": e.get("time"), "feature_space": e.get("feature_space"),
            "metrics": e["metrics"], "file": e.get("file")}


def looks_like_run(p: Path) -> bool:
    """A run folder gankit made (:meth:`gankit.run.Run.is_run`)."""
    return Run.is_run(p)


def load_run(run_dir, *, size: bool = True) -> RunInfo:
    """Everything ``gankit runs`` shows about one run folder."""
    p = Path(run_dir)
    info = RunInfo(path=p, name=p.name)
    run = Run(p)
    cfg = _read_json(run.config_path) or {}
    if not isinstance(cfg.get("model_config"), (dict, type(None))):
        cfg = {**cfg, "model_config": None}
    info.config = cfg
    opts = cfg.get("options") if isinstance(cfg.get("options"), dict) else {}
    info.options = opts
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    info.model = str(cfg.get("model") or opts.get("model") or "")
    info.data = str(data.get("name") or opts.get("dataset") or opts.get("data") or "")
    info.loss = cfg.get("loss") if isinstance(cfg.get("loss"), str) else opts.get("loss")
    info.checkpoints = checkpoint_steps(p)
    info.metrics = read_metrics(p)
    info.evals = read_evals(p)
    info.lock = read_lock(p)
    st = _read_json(run.status_path)

    ckpt_step = info.checkpoints[-1][0] if info.checkpoints else 0
    metrics_step = info.metrics[-1]["step"] if info.metrics else 0
    st_step = (small_int(st.get("step"), 0, 10**15) or 0) if st else 0
    info.step = max(ckpt_step, metrics_step, st_step)
    total = st.get("total_steps") if st else None
    total = small_int(total, 0, 10**15)
    if total is None:
        total = small_int(opts.get("steps"), 0, 10**15)
    info.total_steps = total

    status = Run(p).status(cfg)  # status.json corrected by the lock
    info.status, info.message = status["status"], status["message"]
    if info.lock and info.lock.get("host") and info.lock["host"] != socket.gethostname():
        info.status_note = f"locked by {info.lock['host']} (not checked from here)"
    elif st and st.get("status") == "running" and info.status == "interrupted":
        info.status_note = "its process is gone (stale lock)"
    elif not st and not info.lock:
        info.status_note = "inferred from its checkpoints (no status.json)"

    times = []
    for f in (run.config_path, run.metrics_path):
        try:
            times.append(f.stat().st_mtime)
        except OSError:
            pass
    info.started = finite_number(st.get("started")) if st else None
    if info.started is None and info.lock:
        info.started = finite_number(info.lock.get("started"))
    if info.started is None:
        last_wall = finite_number(info.metrics[-1].get("wall_time")) if info.metrics else None
        try:
            mtime = run.metrics_path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime is not None and last_wall is not None:
            info.started = mtime - last_wall  # the last line was written wall_time after start
        elif times:
            info.started = min(times)
    info.updated = finite_number(st.get("updated")) if st else None
    ck_times = []
    for _, c in info.checkpoints[-1:]:
        try:
            ck_times.append(c.stat().st_mtime)
        except OSError:
            pass
    newest = max(times + ck_times, default=None)
    if info.updated is None or (newest is not None and info.running and newest > info.updated):
        info.updated = newest
    if size:
        info.size = disk_size(p)
    return info


def find_runs(root) -> list[Path]:
    """The run folders directly under ``root``."""
    root = Path(root)
    if not root.exists():
        raise UsageError(f"--out {root}: no such folder; train a run with `gankit train dcgan` "
                         "or point --out at a folder of runs")
    if not root.is_dir():
        raise UsageError(f"--out {root}: not a folder")
    try:
        entries = list(root.iterdir())
    except OSError as exc:
        raise GankitError(f"--out {root}: cannot list it ({exc.strerror or exc})") from None
    return sorted((d for d in entries if looks_like_run(d)), key=lambda d: d.name)


def resolve_run(target, root="runs") -> Path:
    """A run given on the command line (:meth:`gankit.run.Run.find`: a run name under
    ``root``, a run folder, or a checkpoint inside one)."""
    return Run.find(target, root).path


def sort_runs(runs: list[RunInfo], key: str, reverse: bool = False) -> list[RunInfo]:
    if key not in SORT_KEYS:
        raise UsageError(f"--sort {key}: choose one of {', '.join(SORT_KEYS)}")
    keyfn = {
        "name": lambda r: (r.name,),
        "time": lambda r: (r.started or 0.0, r.name),
        "model": lambda r: (r.model, r.started or 0.0, r.name),
        "status": lambda r: (STATUSES.index(r.status), r.started or 0.0, r.name),
        "steps": lambda r: (r.step, r.name),
    }[key]
    return sorted(runs, key=keyfn, reverse=reverse)


def list_runs(root, *, models=(), statuses=(), sort="time", reverse=False,
              progress=None) -> list[RunInfo]:
    """The runs under ``root``, filtered and sorted. ``progress(done, total)`` is called
    once reading takes longer than half a second (long metrics files, many runs)."""
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise UsageError(f"--status {bad[0]}: choose from {', '.join(STATUSES)}")
    found = find_runs(root)
    runs, t0 = [], time.perf_counter()
    for i, d in enumerate(found):
        try:
            runs.append(load_run(d))
        except (OSError, ValueError, TypeError, RecursionError, OverflowError):
            continue  # one broken run never hides the others
        if progress is not None and time.perf_counter() - t0 > 0.5:
            progress(i + 1, len(found))
    if models:
        runs = [r for r in runs if r.model in models]
    if statuses:
        runs = [r for r in runs if r.status in statuses]
    return sort_runs(runs, sort, reverse)


# -- compare -----------------------------------------------------------------------------


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


# fields that differ between any two runs and say nothing about the training
NOT_SETTINGS = {"options.name", "options.out", "options.model"}  # model: shown once


def differing_settings(runs: list[RunInfo]) -> dict[str, list]:
    """``{setting: [value per run]}`` for the options and model config that differ."""
    flats = [_flat({"model": r.model, "data": r.config.get("data") or {},
                    "loss": r.loss, "device": r.config.get("device"),
                    "precision": r.config.get("precision"),
                    "options": r.options, "model_config": r.config.get("model_config") or {}})
             for r in runs]
    keys = sorted(set().union(*flats))
    out = {}
    for k in keys:
        if k in NOT_SETTINGS:
            continue
        vals = [f.get(k) for f in flats]
        if any(json.dumps(v, sort_keys=True, default=str) != json.dumps(vals[0], sort_keys=True,
                                                                          default=str)
               for v in vals[1:]):
            out[k] = vals
    return out
